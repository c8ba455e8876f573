import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { appendFile, chown, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../src/common/free-port.js';
import { makeTraversable } from '../src/database/embedded-postgres.js';
import { findBinary, missingBinaryMessage, unprivilegedUser } from './system-binaries.js';
import { TcpProxy } from './tcp-proxy.js';

/** Debian's PostgreSQL 15, which Debian's pg_auto_failover (postgresql-15-auto-failover) is built for. */
export const PG_BIN = '/usr/lib/postgresql/15/bin';
const CONFIG_DIR = path.resolve('deploy/failover');
const DATABASE = 'payments';

/** What the formation needs on this machine: pg_autoctl, PostgreSQL 15, haproxy and psql (the check). */
export function missingFailoverBinaries(): string[] {
  const missing = ['pg_autoctl', 'haproxy', 'psql'].filter((name) => findBinary(name) === undefined);
  return findBinary('pg_autoctl') && !existsSync(path.join(PG_BIN, 'pg_ctl')) ? [...missing, `${PG_BIN}/pg_ctl`] : missing;
}

/** The failover suites' message: opted out of with SKIP_FAILOVER_TESTS=1. */
export function missingFailoverMessage(missing: string[], suite = 'The failover tests'): string | undefined {
  return missingBinaryMessage(missing, 'apt-get install -y postgresql-15-auto-failover haproxy', 'SKIP_FAILOVER_TESTS', suite);
}

/**
 * Settings for every node and the monitor: small (pg_autoctl sizes shared_buffers for a machine of
 * its own), and a monitor that decides in seconds rather than its production defaults (a 20 s
 * unhealthy timeout, 5 s health checks): the tests wait for failovers, and docs/operations.md
 * says which values production keeps.
 */
const NODE_SETTINGS = {
  shared_buffers: "'64MB'",
  max_connections: '200',
  effective_cache_size: "'512MB'",
  maintenance_work_mem: "'64MB'",
  work_mem: "'4MB'",
  wal_keep_size: "'256MB'",
};
export const MONITOR_TIMINGS = {
  'pgautofailover.health_check_period': '1000',
  'pgautofailover.health_check_timeout': '1000',
  'pgautofailover.health_check_max_retries': '1',
  'pgautofailover.health_check_retry_delay': '500',
  'pgautofailover.node_considered_unhealthy_timeout': '3000',
  'pgautofailover.startup_grace_period': '2000',
  'pgautofailover.primary_demote_timeout': '5000',
};
/** The keeper's side: a primary that reaches neither the monitor nor a standby demotes itself after this many seconds. */
export const KEEPER_TIMINGS = {
  'timeout.network_partition_timeout': '4',
  'timeout.prepare_promotion_catchup': '10',
  'timeout.postgresql_restart_failure_timeout': '5',
};

/** One PostgreSQL node: its keeper (`pg_autoctl run`), its postgres, and the links that can be cut. */
export class FormationNode {
  keeper: ChildProcess | undefined;
  private log = '';

  constructor(
    readonly name: string,
    /** The advertised address: 127.0.0.x where only the harness's proxy listens, or 127.0.0.1 itself without links. */
    readonly host: string,
    /** PostgreSQL's port, listened on at 127.0.0.1 by postgres and at `host` by the proxy. */
    readonly port: number,
    readonly pgdata: string,
    readonly home: string,
    /**
     * Everything that reaches this node's postgres (clients, HAProxy, monitor, standby) comes
     * through here, and the keeper reaches the monitor through `monitorLink`; neither exists in a
     * formation started with `cuttable: false`.
     */
    readonly links?: { proxy: TcpProxy; monitorLink: TcpProxy },
  ) {}

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** The node's own database, straight (not through HAProxy): to ask it what it is. */
  get url(): string {
    return `postgres://postgres@${this.host}:${this.port}/${DATABASE}`;
  }

  output(): string {
    return this.log.slice(-4000);
  }

  append(chunk: Buffer): void {
    this.log = (this.log + chunk.toString()).slice(-100_000);
  }

  /** The postmaster's process id, from postmaster.pid. */
  async postmasterPid(): Promise<number | undefined> {
    const text = await readFile(path.join(this.pgdata, 'postmaster.pid'), 'utf8').catch(() => '');
    const pid = Number(text.split('\n')[0]);
    return pid > 0 ? pid : undefined;
  }
}

const WRITABLE_STATES = new Set(['primary', 'wait_primary', 'single']);

/** A row of the monitor's view of the formation (pgautofailover.node). */
export interface NodeState {
  name: string;
  reported: string;
  assigned: string;
}

/**
 * A pg_auto_failover formation of Debian's packages, as local processes on free ports: a monitor,
 * a primary and a synchronous standby (`pg_autoctl`, PostgreSQL 15), run as the postgres user, with
 * Debian's HAProxy in front (deploy/failover/haproxy.cfg) sending every connection to the node that
 * is the writable primary (deploy/failover/primary-check.sh).
 *
 * Each node advertises an address of its own (127.0.0.2, 127.0.0.3) where a TCP proxy of the
 * harness listens, and its keeper reaches the monitor through another one: `cut(node)` drops both,
 * so the node is cut off from the network (standby, monitor, HAProxy) while it runs. With
 * `cuttable: false` (the bench) there are no such proxies: the standby streams from the primary
 * straight, so a commit's wait for it holds no hop through this process.
 */
export class FailoverFormation {
  private haproxy: ChildProcess | undefined;
  private haproxyOutput = '';
  /** The process groups of every pg_autoctl run started, ended at stop. */
  private readonly groups = new Set<number>();

  private constructor(
    private readonly dir: string,
    private readonly user: { uid: number; gid: number } | undefined,
    readonly monitorPort: number,
    private readonly monitorHome: string,
    private monitor: ChildProcess | undefined,
    readonly nodes: FormationNode[],
    readonly haproxyPort: number,
  ) {}

  /** The database URL of the formation: through HAProxy, to whichever node is primary. */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.haproxyPort}/${DATABASE}`;
  }

  private get monitorUrl(): string {
    return `postgres://autoctl_node@127.0.0.1:${this.monitorPort}/pg_auto_failover?sslmode=disable`;
  }

  static async start(options: { echo?: boolean; cuttable?: boolean } = {}): Promise<FailoverFormation> {
    const dir = await mkdtemp(path.join(tmpdir(), 'failover-'));
    const user = unprivilegedUser(); // pg_autoctl and PostgreSQL refuse root
    await makeTraversable(dir);
    const own = async (folder: string) => {
      await mkdir(folder, { recursive: true });
      if (user) await chown(folder, user.uid, user.gid);
    };
    await own(dir);
    const monitorHome = path.join(dir, 'monitor-home');
    await own(monitorHome);
    const formation = new FailoverFormation(dir, user, await freePort(), monitorHome, undefined, [], await freePort());
    try {
      await formation.createMonitor(options.echo);
      for (const [index, name] of ['node-1', 'node-2'].entries())
        await formation.addNode(name, options.cuttable === false ? undefined : `127.0.0.${index + 2}`, own);
      await formation.startHaProxy();
      await formation.waitForSync();
      return formation;
    } catch (error) {
      await formation.stop();
      throw error;
    }
  }

  /** What HAProxy wrote (its servers going up and down). */
  haproxyLog(): string {
    return this.haproxyOutput;
  }

  /** The monitor's view: every node's reported and assigned state. */
  async states(): Promise<NodeState[]> {
    const client = new pg.Client({ connectionString: this.monitorUrl.replace('autoctl_node', 'postgres'), connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      const { rows } = await client.query<NodeState>(
        `SELECT nodename AS name, reportedstate::text AS reported, goalstate::text AS assigned FROM pgautofailover.node ORDER BY nodeid`,
      );
      return rows;
    } finally {
      await client.end();
    }
  }

  /** The node the monitor has as primary (reported and assigned), waiting up to `timeoutMs` for one. */
  async primary(timeoutMs = 60_000, not?: FormationNode): Promise<FormationNode> {
    const giveUpAt = Date.now() + timeoutMs;
    let last: NodeState[] = [];
    while (Date.now() < giveUpAt) {
      last = await this.states().catch(() => []);
      // wait_primary: a primary whose standby is gone, writable (and committing alone) until it is back.
      const primary = last.find(
        (state) => WRITABLE_STATES.has(state.reported) && state.assigned === state.reported && state.name !== not?.name,
      );
      if (primary) return this.nodes.find((node) => node.name === primary.name)!;
      await sleep(200);
    }
    throw new Error(`no primary${not ? ` other than ${not.name}` : ''} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  /** Waits until the formation is back to a primary and a secondary (the standby in sync). */
  async waitForSync(timeoutMs = 90_000): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    let last: NodeState[] = [];
    while (Date.now() < giveUpAt) {
      last = await this.states().catch(() => []);
      const settled = last.every((state) => state.reported === state.assigned);
      const roles = last.map((state) => state.reported).sort();
      if (settled && roles.join() === 'primary,secondary') return;
      await sleep(200);
    }
    throw new Error(`the formation did not settle to primary + secondary: ${JSON.stringify(last)}`);
  }

  /** Asks a node directly whether it is a standby (pg_is_in_recovery). */
  async inRecovery(node: FormationNode): Promise<boolean> {
    const client = new pg.Client({ connectionString: node.url, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      return (await client.query<{ recovery: boolean }>('SELECT pg_is_in_recovery() AS recovery')).rows[0]!.recovery;
    } finally {
      await client.end();
    }
  }

  /**
   * What each node says of itself, for a report when writes do not come back: whether it is in
   * recovery, its server processes by state and wait event, and its standbys (pg_stat_replication).
   */
  async describeNodes(): Promise<string> {
    const described = await Promise.all(
      this.nodes.map(async (node) => {
        const client = new pg.Client({ connectionString: node.url, connectionTimeoutMillis: 2000, query_timeout: 2000 });
        try {
          await client.connect();
          const { rows } = await client.query<{ described: unknown }>(
            `SELECT json_build_object(
                      'in_recovery', pg_is_in_recovery(),
                      'sessions', (SELECT json_object_agg(k, n) FROM (
                                     SELECT coalesce(state, '-') || '/' || coalesce(wait_event, '-') AS k, count(*) AS n
                                       FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1) s),
                      'standbys', (SELECT json_agg(json_build_object('state', state, 'sync_state', sync_state,
                                     'replay_lag', replay_lag::text)) FROM pg_stat_replication),
                      'synchronous_standby_names', current_setting('synchronous_standby_names')) AS described`,
          );
          return `${node.name}: ${JSON.stringify(rows[0]?.described)}`;
        } catch (error) {
          return `${node.name}: unreachable (${error instanceof Error ? error.message : String(error)})`;
        } finally {
          await client.end().catch(() => undefined);
        }
      }),
    );
    return `${described.join('; ')}; monitor: ${JSON.stringify(await this.states().catch(() => 'unreachable'))}`;
  }

  /**
   * Stops (SIGSTOP) the standby's WAL receiver: the primary's commits then wait for it (sync
   * replication) and reach no other node. The returned function lets it go on (SIGCONT).
   */
  async pauseWalReceiver(standby: FormationNode): Promise<() => void> {
    const client = new pg.Client({ connectionString: standby.url, connectionTimeoutMillis: 3000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_wal_receiver');
      const pid = rows[0]?.pid;
      if (!pid) throw new Error(`${standby.name} has no WAL receiver`);
      process.kill(pid, 'SIGSTOP');
      return () => process.kill(pid, 'SIGCONT');
    } finally {
      await client.end();
    }
  }

  /** SIGKILL of the node's postmaster (its keeper starts it again, or the monitor fails over). */
  async killPostmaster(node: FormationNode): Promise<void> {
    const pid = await node.postmasterPid();
    if (pid) process.kill(pid, 'SIGKILL');
  }

  /** `pg_autoctl stop --immediate`: the keeper and postgres gone at once, as a crashed machine. */
  async stopImmediate(node: FormationNode): Promise<void> {
    await this.autoctl(node.home, ['stop', '--pgdata', node.pgdata, '--immediate']);
    await new Promise<void>((resolve) =>
      node.keeper && node.keeper.exitCode === null ? node.keeper.once('exit', () => resolve()) : resolve(),
    );
    node.keeper = undefined;
  }

  /** The node cut off from the network: its standby, the monitor, HAProxy and every client lose it. */
  async cut(node: FormationNode): Promise<void> {
    const links = linksOf(node);
    await Promise.all([links.proxy.cut(), links.monitorLink.cut()]);
  }

  async restore(node: FormationNode): Promise<void> {
    const links = linksOf(node);
    await Promise.all([links.proxy.restore(), links.monitorLink.restore()]);
  }

  /** Starts a stopped node's keeper again (it rejoins as the monitor says: after a failover, a standby). */
  startKeeper(node: FormationNode, echo = false): void {
    // A process group of its own: the keeper's services (renamed "pg_autoctl: ...") are ended with it.
    const child = spawn('pg_autoctl', ['run', '--pgdata', node.pgdata], {
      ...this.user,
      env: this.env(node.home),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.groups.add(child.pid!);
    const keep = (chunk: Buffer) => {
      node.append(chunk);
      if (echo) process.stderr.write(`[${node.name}] ${chunk.toString()}`);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    node.keeper = child;
  }

  async stop(): Promise<void> {
    this.haproxy?.kill('SIGTERM');
    for (const node of this.nodes) {
      await this.autoctl(node.home, ['stop', '--pgdata', node.pgdata, '--immediate']).catch(() => undefined);
      node.keeper?.kill('SIGKILL');
      await node.links?.proxy.cut();
      await node.links?.monitorLink.cut();
    }
    await this.autoctl(this.monitorHome, ['stop', '--pgdata', path.join(this.dir, 'monitor'), '--immediate']).catch(() => undefined);
    this.monitor?.kill('SIGKILL');
    // What an immediate stop leaves behind (a postmaster, pg_autoctl's start/stop service) is
    // found by the formation's own folder in its command line: nothing else is touched.
    await sleep(500);
    for (const group of this.groups) signalGroup(group);
    for (const pid of await processesUsing(this.dir)) process.kill(pid, 'SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }

  private async createMonitor(echo?: boolean): Promise<void> {
    const pgdata = path.join(this.dir, 'monitor');
    await this.autoctl(this.monitorHome, [
      'create',
      'monitor',
      '--pgctl',
      path.join(PG_BIN, 'pg_ctl'),
      '--pgdata',
      pgdata,
      '--pgport',
      String(this.monitorPort),
      '--hostname',
      '127.0.0.1',
      '--auth',
      'trust',
      '--no-ssl',
    ]);
    await this.appendSettings(pgdata, { ...NODE_SETTINGS, ...MONITOR_TIMINGS });
    const child = spawn('pg_autoctl', ['run', '--pgdata', pgdata], {
      ...this.user,
      env: this.env(this.monitorHome),
      stdio: ['ignore', 'ignore', echo ? 'inherit' : 'ignore'],
      detached: true,
    });
    this.groups.add(child.pid!);
    this.monitor = child;
    for (let i = 0; i < 300; i++) {
      if (
        await this.states().then(
          () => true,
          () => false,
        )
      )
        return;
      await sleep(100);
    }
    throw new Error('the pg_auto_failover monitor did not start');
  }

  /** A node advertised at `host` through the harness's proxies, or at 127.0.0.1 itself without them. */
  private async addNode(name: string, host: string | undefined, own: (folder: string) => Promise<void>): Promise<void> {
    const port = await freePort();
    const home = path.join(this.dir, `${name}-home`);
    await own(home);
    const pgdata = path.join(this.dir, name);
    let links: FormationNode['links'];
    if (host !== undefined) {
      const proxy = new TcpProxy('127.0.0.1', port, host);
      proxy.port = port;
      await proxy.start();
      const monitorLink = new TcpProxy('127.0.0.1', this.monitorPort);
      await monitorLink.start();
      links = { proxy, monitorLink };
    }
    const node = new FormationNode(name, host ?? '127.0.0.1', port, pgdata, home, links);
    this.nodes.push(node);
    const monitorUrl = `postgres://autoctl_node@127.0.0.1:${links?.monitorLink.port ?? this.monitorPort}/pg_auto_failover?sslmode=disable`;
    await this.autoctl(home, [
      'create',
      'postgres',
      '--pgctl',
      path.join(PG_BIN, 'pg_ctl'),
      '--pgdata',
      pgdata,
      '--pgport',
      String(port),
      '--listen',
      '127.0.0.1',
      '--hostname',
      node.host,
      '--name',
      name,
      '--dbname',
      DATABASE,
      '--monitor',
      monitorUrl,
      '--auth',
      'trust',
      '--no-ssl',
    ]);
    await this.appendSettings(pgdata, NODE_SETTINGS);
    for (const [setting, value] of Object.entries(KEEPER_TIMINGS))
      await this.autoctl(home, ['config', 'set', '--pgdata', pgdata, setting, value]);
    this.startKeeper(node);
    // The next node's base backup needs this one to be primary (or this one to have caught up).
    const giveUpAt = Date.now() + 60_000;
    for (;;) {
      const state = (await this.states()).find((candidate) => candidate.name === name);
      if (state && state.reported === state.assigned && ['single', 'primary', 'secondary', 'wait_primary'].includes(state.reported)) return;
      if (Date.now() > giveUpAt) throw new Error(`${name} did not join: ${JSON.stringify(state)}\n${node.output()}`);
      await sleep(200);
    }
  }

  private async startHaProxy(): Promise<void> {
    const binary = findBinary('haproxy')!;
    const child = spawn(binary, ['-db', '-f', path.join(CONFIG_DIR, 'haproxy.cfg')], {
      env: {
        PATH: process.env.PATH ?? '',
        HAPROXY_BIND: `127.0.0.1:${this.haproxyPort}`,
        NODE_1: this.nodes[0]!.address,
        NODE_2: this.nodes[1]!.address,
        PRIMARY_CHECK: path.join(CONFIG_DIR, 'primary-check.sh'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => (this.haproxyOutput = (this.haproxyOutput + chunk.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    this.haproxy = child;
    for (let i = 0; i < 200 && child.exitCode === null; i++) {
      const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 1000 });
      const reached = await client.connect().then(
        () => client.query('SELECT 1').then(() => true),
        () => false,
      );
      await client.end().catch(() => undefined);
      if (reached) return;
      await sleep(100);
    }
    throw new Error(`haproxy found no primary: ${this.haproxyOutput}`);
  }

  /** Settings appended to postgresql.auto.conf, read after pg_autoctl's own file: they win. */
  private async appendSettings(pgdata: string, settings: Record<string, string>): Promise<void> {
    const lines = Object.entries(settings).map(([name, value]) => `${name} = ${value}\n`);
    await appendFile(path.join(pgdata, 'postgresql.auto.conf'), lines.join(''));
  }

  private env(home: string): Record<string, string> {
    return { PATH: `${process.env.PATH ?? ''}:${PG_BIN}`, HOME: home, PG_CONFIG: path.join(PG_BIN, 'pg_config') };
  }

  private autoctl(home: string, args: string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('pg_autoctl', args, { ...this.user, env: this.env(home), stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) =>
        code === 0 ? resolve() : reject(new Error(`pg_autoctl ${args.slice(0, 2).join(' ')} failed (${code}): ${output.slice(-3000)}`)),
      );
    });
  }
}

function linksOf(node: FormationNode): NonNullable<FormationNode['links']> {
  if (!node.links) throw new Error(`${node.name} has no links to cut: its formation was started with cuttable: false`);
  return node.links;
}

function signalGroup(group: number): void {
  try {
    process.kill(-group, 'SIGKILL');
  } catch {
    // gone already
  }
}

/** The processes whose command line names `dir` (a postmaster's -D, a keeper's --pgdata). */
async function processesUsing(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc').catch(() => [])) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (commandLine.includes(dir)) pids.push(Number(entry));
  }
  return pids;
}
