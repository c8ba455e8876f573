import { spawn } from 'node:child_process';
import { appendFile, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../src/common/free-port.js';
import { makeTraversable } from '../src/database/embedded-postgres.js';
import { PG_BIN } from '../testing/failover-formation.js';
import { unprivilegedUser } from '../testing/system-binaries.js';
import { sql } from './database.js';

// The single server the synchronous standby is measured against (bench/sync-standby.ts): the same
// PostgreSQL 15 as the formation's nodes, with the primary's own settings but for replication.

/** Settings a server without a standby does not take from the primary: its replication, and what names or places the primary itself. */
const NOT_COPIED = new Set([
  'synchronous_standby_names',
  'primary_conninfo',
  'primary_slot_name',
  'port',
  'listen_addresses',
  'cluster_name',
  'data_directory',
  'config_file',
  'hba_file',
  'ident_file',
]);

/**
 * The settings the primary at `url` read from its configuration files (initdb's, pg_autoctl's and
 * the formation's own), less NOT_COPIED: values in each setting's base unit, as pg_settings has them.
 */
export async function settingsWithoutReplication(url: string): Promise<Record<string, string>> {
  const [result] = await sql(url, [`SELECT name, setting FROM pg_settings WHERE source = 'configuration file' ORDER BY name`]);
  return Object.fromEntries(
    result!.rows
      .filter((row: { name: string }) => !NOT_COPIED.has(row.name))
      .map((row: { name: string; setting: string }) => [row.name, row.setting]),
  );
}

/** PostgreSQL 15 initialised in a folder of its own, on a free port, run as the unprivileged user. */
export class SingleServer {
  private constructor(
    private readonly dir: string,
    private readonly user: { uid: number; gid: number } | undefined,
    readonly port: number,
  ) {}

  /** The server's `database`. */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  /** A server with `settings` (its checksums as `dataChecksums` says), and an empty `database`. */
  static async start(settings: Record<string, string>, options: { dataChecksums: boolean; database: string }): Promise<SingleServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'bench-single-'));
    await makeTraversable(dir);
    const server = new SingleServer(dir, unprivilegedUser(), await freePort());
    try {
      if (server.user) await chown(dir, server.user.uid, server.user.gid); // PostgreSQL refuses root
      const pgdata = path.join(dir, 'data');
      await server.run(path.join(PG_BIN, 'initdb'), [
        '-D',
        pgdata,
        '-U',
        'postgres',
        '--auth=trust',
        ...(options.dataChecksums ? ['-k'] : []),
      ]);
      const lines = Object.entries(settings).map(([name, value]) => `${name} = '${value.replaceAll("'", "''")}'\n`);
      await appendFile(path.join(pgdata, 'postgresql.auto.conf'), lines.join(''));
      const listen = `-c listen_addresses=127.0.0.1 -c port=${server.port} -c unix_socket_directories=${dir}`;
      await server.run(path.join(PG_BIN, 'pg_ctl'), ['start', '-w', '-D', pgdata, '-l', path.join(dir, 'server.log'), '-o', listen]);
      await sql(server.url('postgres'), [`CREATE DATABASE ${options.database}`]);
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  async stop(): Promise<void> {
    await this.run(path.join(PG_BIN, 'pg_ctl'), ['stop', '-D', path.join(this.dir, 'data'), '-m', 'immediate', '-w']).catch(
      () => undefined,
    );
    await rm(this.dir, { recursive: true, force: true });
  }

  /** Runs a program as the unprivileged user, failing with its output. */
  private run(program: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(program, args, { ...this.user, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`${path.basename(program)} failed (${code}): ${output.slice(-3000)}`)),
      );
    });
  }
}
