import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';
import { SESSION_SETTINGS, sessionSettingsSql } from '../src/config/data-source-options.js';
import { findBinary, unprivilegedUser } from './system-binaries.js';

/**
 * How the pooler pools, for the harness's PgBouncer and docker compose's alike
 * (deploy/fleet/pgbouncer.ini; test/fleet-config.spec.ts keeps them equal).
 */
export const POOLING_SETTINGS = {
  pool_mode: 'transaction',
  // Sent by pg at connect; PgBouncer 1.18 cannot pass them on, connect_query sets them instead.
  ignore_startup_parameters: Object.keys(SESSION_SETTINGS).join(','),
  default_pool_size: '20',
  max_client_conn: '1000',
  server_connect_timeout: '3',
  server_login_retry: '1',
} as const;

export interface PgBouncerOptions {
  /** The PostgreSQL server it pools (its user, password and database are the pool's). */
  upstreamUrl: string;
}

/**
 * Debian's PgBouncer in transaction pooling mode in front of PostgreSQL, as a process of its own on
 * a free port, with its config in a temporary folder. It can be stopped (SIGTERM: PgBouncer's
 * immediate shutdown, every connection dropped) and started again on the same port.
 *
 * What the service needs of it (docs/operations.md): the startup parameters that PgBouncer 1.18
 * cannot pass on (the session bounds) are ignored and set again on every server connection by
 * connect_query; nothing else of a session is relied on.
 */
export class PgBouncer {
  private process: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();

  private constructor(
    private readonly binary: string,
    private readonly dir: string,
    readonly port: number,
    private readonly upstream: URL,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {}

  static async start(options: PgBouncerOptions): Promise<PgBouncer> {
    const binary = findBinary('pgbouncer');
    if (!binary) throw new Error('pgbouncer is not installed (apt-get install -y pgbouncer)');
    const dir = await mkdtemp(path.join(tmpdir(), 'pgbouncer-'));
    const user = unprivilegedUser(); // PgBouncer refuses to run as root
    const bouncer = new PgBouncer(binary, dir, await freePort(), new URL(options.upstreamUrl), user);
    await bouncer.writeConfig();
    await bouncer.restart();
    return bouncer;
  }

  /** The database URL of `upstreamUrl`, through the pooler. */
  get url(): string {
    const url = new URL(this.upstream);
    url.hostname = '127.0.0.1';
    url.port = String(this.port);
    return url.toString();
  }

  /** Starts it (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    await this.stop();
    const child = spawn(this.binary, [path.join(this.dir, 'pgbouncer.ini')], { ...this.user, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    this.process = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await accepts(this.port)) return;
      await sleep(50);
    }
    const log = await readFile(path.join(this.dir, 'pgbouncer.log'), 'utf8').catch(() => '');
    throw new Error(`pgbouncer did not start: ${stderr}${log.slice(-2000)}`);
  }

  /** Immediate shutdown (SIGTERM): every client and server connection is dropped. */
  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await this.exited;
    }
  }

  async remove(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async writeConfig(): Promise<void> {
    const { hostname, port, username, password } = this.upstream;
    const database = this.upstream.pathname.slice(1);
    const server = [
      `host=${hostname}`,
      `port=${port || 5432}`,
      `dbname=${database}`,
      `user=${decodeURIComponent(username)}`,
      password ? `password=${decodeURIComponent(password)}` : '',
      `connect_query='${sessionSettingsSql()}'`,
    ].filter(Boolean);
    const config = `
[databases]
${database} = ${server.join(' ')}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${this.port}
unix_socket_dir =
logfile = ${path.join(this.dir, 'pgbouncer.log')}
; Clients are the harness's own service processes: every one logs in as the database's user.
auth_type = any
${Object.entries(POOLING_SETTINGS)
  .map(([name, value]) => `${name} = ${value}`)
  .join('\n')}
`;
    const file = path.join(this.dir, 'pgbouncer.ini');
    await writeFile(file, config, { mode: 0o600 });
    if (this.user) {
      await chown(this.dir, this.user.uid, this.user.gid);
      await chown(file, this.user.uid, this.user.gid);
    }
    await chmod(this.dir, 0o700);
  }
}

/** Whether something accepts TCP connections on the port. */
export function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
