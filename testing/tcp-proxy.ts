import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the service and PostgreSQL that a test can cut: `cut()` drops every
 * connection and refuses new ones (the database is "unreachable"), `restore()` lets traffic through
 * again on the same port. `stall()` keeps every connection open but delivers nothing (a database
 * that stops answering) until `resume()`.
 */
export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private stalled: (() => void)[] | undefined;
  port = 0;

  constructor(
    private targetHost: string,
    private targetPort: number,
    /** Where it listens: another loopback address lets it take the target's own port (a node's advertised address). */
    private readonly listenHost = '127.0.0.1',
  ) {}

  static forDatabaseUrl(url: string): TcpProxy {
    const parsed = new URL(url);
    return new TcpProxy(parsed.hostname, Number(parsed.port || 5432));
  }

  /** The database URL, pointed at the proxy. */
  urlFor(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      this.track(client);
      this.track(upstream);
      this.forward(client, upstream);
      this.forward(upstream, client);
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, this.listenHost, resolve));
    const address = this.server.address();
    if (address && typeof address === 'object') this.port = address.port;
  }

  /** New connections go to another server from now on; open ones stay where they are. */
  retarget(host: string, port: number): void {
    this.targetHost = host;
    this.targetPort = port;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  restore(): Promise<void> {
    return this.start();
  }

  stall(): void {
    this.stalled ??= [];
  }

  /** Drops every open connection (new ones still pass): a connection lost at a random point. */
  dropConnections(): number {
    const dropped = this.sockets.size;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    return dropped;
  }

  resume(): void {
    const held = this.stalled ?? [];
    this.stalled = undefined;
    for (const deliver of held) deliver();
  }

  private forward(from: Socket, to: Socket): void {
    from.on('data', (chunk: Buffer) => {
      const deliver = () => {
        if (!to.destroyed) to.write(chunk);
      };
      if (this.stalled) this.stalled.push(deliver);
      else deliver();
    });
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }
}
