import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookVerificationError, verifyWebhook } from '@payments/client';

export interface AppliedWebhook {
  id: string;
  event: unknown;
}

/**
 * A merchant's webhook endpoint over real HTTP, written as the client's README tells receivers to
 * write one: verify the raw body with verifyWebhook, apply each webhook-id once, answer 2xx at once
 * (204), and 400 with the reason when the request is not a webhook to trust.
 */
export class WebhookReceiver {
  /** What the receiver acted on: one entry per webhook-id, however often it came. */
  readonly applied: AppliedWebhook[] = [];
  /** Every request that reached it, accepted or not. */
  requests = 0;
  private readonly appliedIds = new Set<string>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** The endpoint's secrets as the merchant holds them (during a roll, both). */
    public secrets: string[],
  ) {}

  static async start(secrets: string[]): Promise<WebhookReceiver> {
    const server = createServer();
    // Port 0: the OS picks a free one, so receivers of parallel test files never collide.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/webhooks`, secrets);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void receiver.receive(request, response));
    return receiver;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
  }

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requests += 1;
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    try {
      const event = await verifyWebhook(Buffer.concat(chunks), request.headers, this.secrets);
      const id = request.headers['webhook-id'] as string;
      if (!this.appliedIds.has(id)) {
        this.appliedIds.add(id);
        this.applied.push({ id, event });
      }
      response.writeHead(204).end();
    } catch (error) {
      const refused = error instanceof WebhookVerificationError;
      response.writeHead(refused ? 400 : 500, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ reason: refused ? error.reason : 'receiver_error' }));
    }
  }
}
