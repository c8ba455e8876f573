import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy in front of the service that loses answers on the way back. Requests always reach
 * the service, which runs and commits them; then, for the next N responses:
 *   - `dropResponses(n)`: the connection is cut as the response arrives (the client sees a network
 *     error);
 *   - `swallowResponses(n)`: the response is kept back and the connection left open (the client
 *     hears nothing until it gives up).
 * The service sends a response only after its transaction committed, so a lost response is a
 * request that took effect without the client knowing.
 */
export class ResponseLosingProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private toDrop = 0;
  private toSwallow = 0;
  private readonly lostListeners: (() => void)[] = [];
  /** Responses lost so far. */
  lost = 0;

  constructor(private readonly targetPort: number) {}

  get baseUrl(): string {
    const address = this.server?.address();
    if (!address || typeof address === 'string') throw new Error('the proxy is not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
      }
      let swallowing = false;
      client.on('data', (chunk: Buffer) => upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => {
        if (swallowing) return;
        if (this.toDrop > 0) {
          this.toDrop--;
          this.noteLost();
          client.destroy();
          upstream.destroy();
        } else if (this.toSwallow > 0) {
          this.toSwallow--;
          swallowing = true;
          this.noteLost();
        } else {
          client.write(chunk);
        }
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
  }

  dropResponses(count: number): void {
    this.toDrop += count;
  }

  swallowResponses(count: number): void {
    this.toSwallow += count;
  }

  /** Resolves when the next response is lost. */
  nextLoss(): Promise<void> {
    return new Promise((resolve) => this.lostListeners.push(resolve));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private noteLost(): void {
    this.lost++;
    for (const listener of this.lostListeners.splice(0)) listener();
  }
}
