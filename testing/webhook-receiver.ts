import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebhookVerificationError, verifyWebhook } from '@payments/client';

export interface AppliedWebhook {
  id: string;
  event: unknown;
}

/**
 * How the receiver answers: as a receiver should (verify, apply once, 204), or a fault: a fixed
 * status without looking at the request (500, 410, a redirect), or no answer at all until it is
 * stopped or told otherwise (`hang`: the sender's timeout).
 */
export type ReceiverBehaviour = { kind: 'receive' } | { kind: 'status'; status: number; location?: string } | { kind: 'hang' };

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
  /** The webhook-signature header of every request, in order. */
  readonly signatures: string[] = [];
  behaviour: ReceiverBehaviour = { kind: 'receive' };
  private readonly appliedIds = new Set<string>();
  private readonly waiters: { count: number; resolve: () => void }[] = [];

  private constructor(
    private readonly server: Server,
    readonly url: string,
    /** The endpoint's secrets as the merchant holds them (during a roll, both). */
    public secrets: string[],
  ) {}

  /** `port`: the port of a receiver stopped earlier (the same endpoint back up); 0 by default. */
  static async start(secrets: string[], atPort = 0): Promise<WebhookReceiver> {
    const server = createServer();
    // Port 0: the OS picks a free one, so receivers of parallel test files never collide.
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(atPort, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    const receiver = new WebhookReceiver(server, `http://127.0.0.1:${port}/webhooks`, secrets);
    server.on('request', (request: IncomingMessage, response: ServerResponse) => void receiver.receive(request, response));
    return receiver;
  }

  /** Takes over what `earlier` applied: the same receiver back up on its port, its webhook-ids kept. */
  adopt(earlier: WebhookReceiver): void {
    for (const webhook of earlier.applied) {
      if (this.appliedIds.has(webhook.id)) continue;
      this.appliedIds.add(webhook.id);
      this.applied.push(webhook);
    }
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Down: refuses connections from now on; hanging requests are cut. */
  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve, reject) => this.server.close((error) => (error ? reject(error) : resolve())));
    this.server.closeAllConnections();
    await closed;
  }

  /** Resolves once `count` requests in all have reached the receiver (a synchronisation point, not a wait). */
  reached(count: number): Promise<void> {
    if (this.requests >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private async receive(request: IncomingMessage, response: ServerResponse): Promise<void> {
    this.requests += 1;
    this.signatures.push(String(request.headers['webhook-signature']));
    for (const waiter of this.waiters.filter((waiter) => this.requests >= waiter.count)) {
      this.waiters.splice(this.waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const behaviour = this.behaviour;
    // No answer: the request stays open until the sender gives up or the receiver stops.
    if (behaviour.kind === 'hang') return;
    if (behaviour.kind === 'status') {
      response.writeHead(behaviour.status, behaviour.location === undefined ? {} : { location: behaviour.location }).end();
      return;
    }
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
