import { HaProxy } from './haproxy.js';
import { PgBouncer } from './pgbouncer.js';
import { ServiceProcess } from './service-process.js';

export interface FleetOptions {
  /** The PostgreSQL server behind PgBouncer. */
  databaseUrl: string;
  adminToken: string;
  /** More environment for every instance (REDIS_URL, RATE_LIMIT_PER_SECOND, OTEL_*, ...). */
  env?: Record<string, string>;
  echo?: boolean;
}

/**
 * The deployment of a merchant that outgrew one process, with Debian's parts: three instances of
 * the service behind HAProxy (deploy/fleet/haproxy.cfg), all on PgBouncer in transaction pooling
 * mode in front of PostgreSQL. Instances can be killed and restarted, PgBouncer restarted.
 */
export class Fleet {
  private constructor(
    readonly pgbouncer: PgBouncer,
    readonly services: ServiceProcess[],
    readonly haproxy: HaProxy,
  ) {}

  static async start(options: FleetOptions): Promise<Fleet> {
    const pgbouncer = await PgBouncer.start({ upstreamUrl: options.databaseUrl });
    try {
      // Started together: their migrations meet at the same time, through the pooler.
      const services = await Promise.all(
        [1, 2, 3].map(() =>
          ServiceProcess.start({
            databaseUrl: pgbouncer.url,
            adminToken: options.adminToken,
            echo: options.echo,
            // PgBouncer 1.18 keeps no named prepared statements across server connections.
            env: { DATABASE_PREPARED_STATEMENTS: 'off', ...options.env },
          }),
        ),
      );
      const haproxy = await HaProxy.start(services.map((service) => service.port));
      await haproxy.waitUntilReady();
      return new Fleet(pgbouncer, services, haproxy);
    } catch (error) {
      await pgbouncer.remove();
      throw error;
    }
  }

  /** The load balancer's address: where clients send requests. */
  get url(): string {
    return this.haproxy.url;
  }

  /** Exits of instances that nobody caused. */
  get unexpectedExits(): string[] {
    return this.services.flatMap((service) => service.unexpectedExits);
  }

  async stop(): Promise<void> {
    await Promise.all(this.services.map((service) => service.kill('SIGTERM')));
    await this.haproxy.stop();
    await this.pgbouncer.remove();
  }
}
