/**
 * Throughput benchmark of the payments service against the PostgreSQL server it runs on.
 *
 * What is measured, and why:
 * - charges/s: `POST /v1/charges`, each with a fresh Idempotency-Key. This is the whole write path
 *   (idempotency record, guarded balance update, ledger entries, recorded response) in one
 *   transaction. It is compared with pgbench's built-in TPC-B script on the same server, which also
 *   does a few updates and an insert per transaction: the ratio says how much of the database's raw
 *   transaction rate survives HTTP, validation and the ORM. Target: charges/s >= 0.5 x pgbench tps.
 * - replays/s: the same charges sent again with their keys. A replay only reads the recorded
 *   response, and clients retry a lot, so it must be clearly cheaper. Target: >= 1.5 x charges/s.
 * - p50/p99 latency, non-2xx responses (target: none), and the service's peak RSS.
 *
 * The service runs as a child process (`node dist/src/main.js`) on DATABASE_URL, or on an embedded
 * PostgreSQL under .data/bench-pg when that is unset. Load comes from wrk when it is on PATH (a
 * separate native process, so the generator is not what limits the numbers), otherwise from
 * autocannon inside this process; `--tool` picks one. The replay phase repeats a set of charges
 * made just before it with fetch, so that every key and body pair is known to have completed.
 *
 * The report goes to stdout, progress to stderr. The exit code is 0 whether the targets are met or
 * not (this is a measurement); it is non-zero only when the run itself broke.
 *
 * Usage: npm run bench -- [--duration 15] [--connections 16] [--tool wrk|autocannon]
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { constants } from 'node:fs';
import { access, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import autocannon from 'autocannon';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/database/embedded-postgres.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ACCOUNTS = 200;
const DEPOSIT = 1_000_000_000;
const CHARGE_AMOUNT = 100;
const SETUP_CONCURRENCY = 16;
const REPLAY_SET_SIZE = 2000;
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const PGBENCH_DATABASE = 'pgbench_bench';

const execFileAsync = promisify(execFile);

type LoadTool = 'wrk' | 'autocannon';

interface Options {
  /** Seconds per phase. */
  duration: number;
  connections: number;
  tool: LoadTool;
}

/** One request body and the Idempotency-Key it is sent with. */
interface KeyedCharge {
  key: string;
  body: string;
}

/** What a phase sends: new charges on random sources, or charges already made, repeated exactly. */
type Workload = { kind: 'fresh'; sources: readonly string[] } | { kind: 'replay'; charges: readonly KeyedCharge[] };

interface LoadResult {
  ok: number;
  non2xx: number;
  /** Connection errors and timeouts. */
  errors: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

type PgbenchResult = { kind: 'ok'; tps: number } | { kind: 'missing' } | { kind: 'failed'; error: string };

interface Report {
  charges: LoadResult;
  replays: LoadResult;
  replaysAreMarked: boolean;
  peakRssMiB: number | undefined;
  pgbench: PgbenchResult;
}

function log(line: string): void {
  console.error(`[bench] ${line}`);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------------------------
// Options and small helpers

async function parseOptions(): Promise<Options> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '15' },
      connections: { type: 'string', default: '16' },
      tool: { type: 'string' },
    },
  });
  const tool = values.tool ?? ((await isOnPath('wrk')) ? 'wrk' : 'autocannon');
  if (tool !== 'wrk' && tool !== 'autocannon') throw new Error(`--tool must be wrk or autocannon, got "${tool}"`);
  return {
    duration: positiveInteger('--duration', values.duration),
    connections: positiveInteger('--connections', values.connections),
    tool,
  };
}

function positiveInteger(name: string, raw: string): number {
  if (!/^[1-9]\d*$/.test(raw)) throw new Error(`${name} must be a positive whole number, got "${raw}"`);
  return Number(raw);
}

async function isOnPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const found = await access(path.join(dir, command), constants.X_OK).then(
      () => true,
      () => false,
    );
    if (found) return true;
  }
  return false;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const address = probe.address();
  probe.close();
  if (typeof address !== 'object' || address === null) throw new Error('could not get a free port');
  return address.port;
}

function pick<T>(items: readonly T[]): T {
  const item = items[Math.floor(Math.random() * items.length)];
  if (item === undefined) throw new Error('cannot pick from an empty list');
  return item;
}

/** Runs `task(0..count-1)` with at most `limit` running at once; results keep their order. */
async function mapConcurrent<R>(count: number, limit: number, task: (index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}

function chargeBody(source: string): string {
  return JSON.stringify({ amount: CHARGE_AMOUNT, currency: 'usd', source });
}

/** Child processes still running; killed if this process exits before its cleanup stopped them. */
const children = new Set<ChildProcess>();
process.once('exit', () => children.forEach((child) => child.kill('SIGKILL')));

function tracked<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs a command to its end and returns its stdout; rejects (with its stderr) when it fails. */
async function runCommand(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const command = execFileAsync(file, args, { env, maxBuffer: 16 * 1024 * 1024 });
  tracked(command.child);
  return (await command).stdout;
}

/** Stops what the run started, newest first, whatever happened. */
class Cleanup {
  private readonly steps: (() => Promise<void>)[] = [];

  add(step: () => Promise<void>): void {
    this.steps.push(step);
  }

  async run(): Promise<void> {
    for (let step = this.steps.pop(); step; step = this.steps.pop()) {
      await step().catch((error: unknown) => log(`cleanup failed: ${errorMessage(error)}`));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Database and service

async function startDatabase(cleanup: Cleanup): Promise<string> {
  const url = process.env.DATABASE_URL;
  if (url) {
    log('using DATABASE_URL');
    return url;
  }
  log('starting embedded PostgreSQL in .data/bench-pg');
  const database = await startEmbeddedPostgres({
    dataDir: path.join(ROOT, '.data/bench-pg'),
    database: 'payments_bench',
    recreateDatabase: true,
    log,
  });
  cleanup.add(() => database.stop());
  return database.url;
}

interface Service {
  baseUrl: string;
  adminToken: string;
  pid: number;
  stop(): Promise<void>;
}

async function startService(databaseUrl: string, cleanup: Cleanup): Promise<Service> {
  const port = await freePort();
  const adminToken = randomBytes(16).toString('hex');
  log(`starting the service on port ${port}`);
  const child = tracked(
    spawn(process.execPath, ['dist/src/main.js'], {
      cwd: ROOT,
      // The service's own output goes to stderr, so stdout carries only the report.
      stdio: ['ignore', 2, 2],
      env: {
        ...process.env,
        PORT: String(port),
        DATABASE_URL: databaseUrl,
        ADMIN_TOKEN: adminToken,
        RATE_LIMIT_PER_SECOND: '0',
        LOG_LEVEL: 'error',
      },
    }),
  );
  const stop = () => stopChild(child);
  cleanup.add(stop);
  if (child.pid === undefined) throw new Error('could not start node dist/src/main.js');
  const baseUrl = `http://127.0.0.1:${port}`;
  await waitUntilReady(baseUrl, child);
  return { baseUrl, adminToken, pid: child.pid, stop };
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitUntilReady(baseUrl: string, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw new Error(`the service exited while starting (${child.exitCode ?? child.signalCode})`);
    if ((await readinessStatus(baseUrl)) === 200) return;
    await delay(200);
  }
  throw new Error(`GET /health/ready did not answer 200 within ${READY_TIMEOUT_MS / 1000} s`);
}

/** The status of GET /health/ready, or 0 while nothing answers. */
async function readinessStatus(baseUrl: string): Promise<number> {
  try {
    const response = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

/** SIGTERM, then SIGKILL if the service has not exited after its grace period. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (hasExited(child)) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const kill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(kill);
}

/** Peak resident set size (VmHWM) of a running process, in MiB; undefined off Linux. */
async function readPeakRssMiB(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
  const kib = status?.match(/^VmHWM:\s+(\d+) kB$/m)?.[1];
  return kib === undefined ? undefined : Number(kib) / 1024;
}

// ---------------------------------------------------------------------------------------------
// HTTP set-up with fetch

interface ApiResponse {
  status: number;
  headers: Headers;
  text: string;
}

class ApiClient {
  constructor(
    readonly baseUrl: string,
    readonly token: string,
  ) {}

  async post(route: string, body: string, idempotencyKey: string = randomUUID()): Promise<ApiResponse> {
    const response = await fetch(`${this.baseUrl}${route}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${this.token}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  /** POSTs and returns the `field` of the 201 body; anything else breaks the run. */
  async create(route: string, body: string, field: string, idempotencyKey?: string): Promise<string> {
    const response = await this.post(route, body, idempotencyKey);
    if (response.status !== 201) {
      throw new Error(`POST ${route} answered ${response.status}, expected 201: ${response.text.slice(0, 500)}`);
    }
    const value: unknown = (JSON.parse(response.text) as Record<string, unknown>)[field];
    if (typeof value !== 'string') throw new Error(`POST ${route}: the 201 body has no string "${field}"`);
    return value;
  }
}

/** A merchant with ACCOUNTS funded usd accounts; returns its API key and the account ids. */
async function setUpMerchant(service: Service): Promise<{ apiKey: string; sources: string[] }> {
  const admin = new ApiClient(service.baseUrl, service.adminToken);
  const apiKey = await admin.create('/v1/merchants', JSON.stringify({ name: 'bench' }), 'api_key');
  const api = new ApiClient(service.baseUrl, apiKey);
  const sources = await mapConcurrent(ACCOUNTS, SETUP_CONCURRENCY, async () => {
    const id = await api.create('/v1/accounts', JSON.stringify({ currency: 'usd' }), 'id');
    await api.create(`/v1/accounts/${id}/deposits`, JSON.stringify({ amount: DEPOSIT }), 'id');
    return id;
  });
  return { apiKey, sources };
}

/** Makes `count` charges whose key and body are kept, for the replay phase to repeat. */
async function recordCharges(api: ApiClient, sources: readonly string[], count: number): Promise<KeyedCharge[]> {
  return mapConcurrent(count, SETUP_CONCURRENCY, async () => {
    const charge = { key: randomUUID(), body: chargeBody(pick(sources)) };
    await api.create('/v1/charges', charge.body, 'id', charge.key);
    return charge;
  });
}

/** True when repeating a few recorded charges answers 201 with `Idempotent-Replayed: true`. */
async function replaysAreMarked(api: ApiClient, charges: readonly KeyedCharge[]): Promise<boolean> {
  for (const charge of charges.slice(0, 5)) {
    const response = await api.post('/v1/charges', charge.body, charge.key);
    if (response.status !== 201 || response.headers.get('idempotent-replayed') !== 'true') return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Load generators

async function runLoad(url: string, apiKey: string, workload: Workload, options: Options): Promise<LoadResult> {
  return options.tool === 'wrk' ? runWrk(url, apiKey, workload, options) : runAutocannon(url, apiKey, workload, options);
}

async function runAutocannon(url: string, apiKey: string, workload: Workload, options: Options): Promise<LoadResult> {
  const next =
    workload.kind === 'fresh'
      ? (): KeyedCharge => ({ key: randomUUID(), body: chargeBody(pick(workload.sources)) })
      : (): KeyedCharge => pick(workload.charges);
  const result = await autocannon({
    url,
    method: 'POST',
    connections: options.connections,
    duration: options.duration,
    timeout: 10,
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    requests: [
      {
        setupRequest: (request) => {
          const { key, body } = next();
          return { ...request, headers: { ...request.headers, 'idempotency-key': key }, body };
        },
      },
    ],
  });
  return {
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    seconds: result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
  };
}

async function runWrk(url: string, apiKey: string, workload: Workload, options: Options): Promise<LoadResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-wrk-'));
  try {
    const script = path.join(dir, 'load.lua');
    await writeFile(script, wrkScript(apiKey, workload));
    const threads = String(Math.min(2, options.connections));
    const args = ['-t', threads, '-c', String(options.connections), '-d', `${options.duration}s`, '--timeout', '10s'];
    return parseWrkResult(await runCommand('wrk', [...args, '-s', script, url]));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A Lua string literal: JSON's escapes of printable ASCII (`\"`, `\\`) mean the same in Lua. */
function lua(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value)) throw new Error(`cannot put ${JSON.stringify(value)} into the wrk script`);
  return JSON.stringify(value);
}

/**
 * The wrk script. Each thread runs its own Lua state: `setup` (in wrk's main state) numbers the
 * threads, so a fresh key is run id + thread number + counter, unique without coordination.
 * `done` prints the numbers as one JSON line, read exactly from wrk's histogram and counters
 * rather than from its rounded text report.
 */
function wrkScript(apiKey: string, workload: Workload): string {
  const request =
    workload.kind === 'fresh'
      ? `
local sources = { ${workload.sources.map(lua).join(', ')} }
local prefix = ${lua(`bench-${randomBytes(6).toString('hex')}-`)}
local counter = 0
function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. thread_number .. "-" .. counter
  local body = string.format('{"amount":${CHARGE_AMOUNT},"currency":"usd","source":"%s"}', sources[math.random(#sources)])
  return wrk.format(nil, nil, nil, body)
end`
      : `
local charges = {
${workload.charges.map((charge) => `  { ${lua(charge.key)}, ${lua(charge.body)} },`).join('\n')}
}
function request()
  local charge = charges[math.random(#charges)]
  wrk.headers["Idempotency-Key"] = charge[1]
  return wrk.format(nil, nil, nil, charge[2])
end`;
  return `-- Generated by bench/bench.ts.
wrk.method = "POST"
wrk.headers["Authorization"] = ${lua(`Bearer ${apiKey}`)}
wrk.headers["Content-Type"] = "application/json"

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

function init(args)
  math.randomseed(os.time() + thread_number)
end
${request}

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%.0f,"duration_us":%.0f,"status_errors":%.0f,"socket_errors":%.0f,"p50_us":%.0f,"p99_us":%.0f}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;
}

/** wrk counts responses with status >= 400 as status errors; the service answers no 3xx. */
function parseWrkResult(stdout: string): LoadResult {
  const line = /^BENCH_RESULT (\{.*\})$/m.exec(stdout)?.[1];
  if (line === undefined) throw new Error(`wrk printed no result line:\n${stdout}`);
  const raw = JSON.parse(line) as Record<string, unknown>;
  const number = (name: string): number => {
    const value = raw[name];
    if (typeof value !== 'number') throw new Error(`wrk result has no number "${name}": ${line}`);
    return value;
  };
  return {
    ok: number('requests') - number('status_errors'),
    non2xx: number('status_errors'),
    errors: number('socket_errors'),
    seconds: number('duration_us') / 1e6,
    p50Ms: number('p50_us') / 1000,
    p99Ms: number('p99_us') / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// pgbench

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** libpq's environment for `url`, so the password is in neither pgbench's argv nor its errors. */
function libpqEnv(url: string): NodeJS.ProcessEnv {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  return {
    ...process.env,
    PGHOST: parsed.hostname,
    PGPORT: parsed.port || '5432',
    PGUSER: decodeURIComponent(parsed.username),
    PGPASSWORD: decodeURIComponent(parsed.password),
    PGDATABASE: decodeURIComponent(parsed.pathname.slice(1)),
    ...(sslmode ? { PGSSLMODE: sslmode } : {}),
  };
}

/** Runs `statements` on the server's `postgres` maintenance database. */
async function onServer(serverUrl: string, statements: string[]): Promise<void> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, 'postgres') });
  await client.connect();
  try {
    for (const statement of statements) await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * TPC-B (pgbench's built-in script) on a fresh scale-1 database of the same server, with as many
 * clients and as long as the service phases.
 */
async function runPgbench(serverUrl: string, options: Options): Promise<PgbenchResult> {
  if (!(await isOnPath('pgbench'))) return { kind: 'missing' };
  const env = libpqEnv(withDatabase(serverUrl, PGBENCH_DATABASE));
  const drop = `DROP DATABASE IF EXISTS ${PGBENCH_DATABASE} WITH (FORCE)`;
  try {
    await onServer(serverUrl, [drop, `CREATE DATABASE ${PGBENCH_DATABASE}`]);
    await runCommand('pgbench', ['-i', '-s', '1', '-q'], env);
    const threads = String(Math.min(2, options.connections));
    const clients = String(options.connections);
    const stdout = await runCommand('pgbench', ['-c', clients, '-j', threads, '-T', String(options.duration), '-n'], env);
    const tps = /^tps = ([\d.]+) \(without initial connection time\)$/m.exec(stdout)?.[1];
    if (tps === undefined) throw new Error(`pgbench printed no tps line:\n${stdout}`);
    return { kind: 'ok', tps: Number(tps) };
  } catch (error) {
    return { kind: 'failed', error: errorMessage(error) };
  } finally {
    await onServer(serverUrl, [drop]).catch((error: unknown) => {
      log(`could not drop ${PGBENCH_DATABASE}: ${errorMessage(error)}`);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function perSecond(result: LoadResult): number {
  return result.ok / result.seconds;
}

function formatTable(rows: string[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function verdict(passed: boolean | undefined): string {
  if (passed === undefined) return 'n/a';
  return passed ? 'PASS' : 'FAIL';
}

function describePgbench(result: PgbenchResult): string {
  switch (result.kind) {
    case 'ok':
      return result.tps.toFixed(1);
    case 'missing':
      return 'not measured: pgbench is not on PATH';
    case 'failed':
      return `failed: ${result.error}`;
  }
}

function formatReport(report: Report, options: Options): string {
  const charges = perSecond(report.charges);
  const replays = perSecond(report.replays);
  const ratio = report.pgbench.kind === 'ok' ? charges / report.pgbench.tps : undefined;
  const ratioCells = ratio === undefined ? ['n/a', verdict(undefined)] : [`${ratio.toFixed(2)} x`, verdict(ratio >= 0.5)];
  const failures = [report.charges, report.replays].reduce((sum, r) => sum + r.non2xx + r.errors, 0);
  const phaseRow = (name: string, result: LoadResult): string[] => [
    name,
    perSecond(result).toFixed(1),
    result.p50Ms.toFixed(2),
    result.p99Ms.toFixed(2),
    String(result.non2xx),
    String(result.errors),
  ];
  return [
    `Payments service benchmark: ${options.duration} s per phase, ${options.connections} connections, ` + `load from ${options.tool}`,
    '',
    formatTable([
      ['phase', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'socket errors'],
      phaseRow('charges', report.charges),
      phaseRow('replays', report.replays),
    ]),
    '',
    formatTable([
      ['service peak RSS (VmHWM)', report.peakRssMiB === undefined ? 'n/a' : `${report.peakRssMiB.toFixed(1)} MiB`],
      [`pgbench tps (TPC-B, scale 1, ${options.connections} clients)`, describePgbench(report.pgbench)],
    ]),
    '',
    formatTable([
      ['target', 'measured', 'result'],
      ['charges/s >= 0.5 x pgbench tps', ...ratioCells],
      ['replays/s >= 1.5 x charges/s', `${(replays / charges).toFixed(2)} x`, verdict(replays >= 1.5 * charges)],
      ['zero non-2xx and socket errors', String(failures), verdict(failures === 0)],
      ['replays carry Idempotent-Replayed: true', String(report.replaysAreMarked), verdict(report.replaysAreMarked)],
    ]),
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// The run

async function run(options: Options, cleanup: Cleanup): Promise<Report> {
  const databaseUrl = await startDatabase(cleanup);
  const service = await startService(databaseUrl, cleanup);
  log(`creating a merchant with ${ACCOUNTS} funded accounts`);
  const { apiKey, sources } = await setUpMerchant(service);
  const chargesUrl = `${service.baseUrl}/v1/charges`;

  log(`phase 1: new charges for ${options.duration} s with ${options.tool}`);
  const charges = await runLoad(chargesUrl, apiKey, { kind: 'fresh', sources }, options);

  log(`recording ${REPLAY_SET_SIZE} charges to replay`);
  const api = new ApiClient(service.baseUrl, apiKey);
  const recorded = await recordCharges(api, sources, REPLAY_SET_SIZE);
  const recordedOk = await replaysAreMarked(api, recorded);
  log(`phase 2: replays for ${options.duration} s with ${options.tool}`);
  const replays = await runLoad(chargesUrl, apiKey, { kind: 'replay', charges: recorded }, options);

  const peakRssMiB = await readPeakRssMiB(service.pid);
  await service.stop();

  log('phase 3: pgbench');
  const pgbench = await runPgbench(databaseUrl, options);
  return { charges, replays, replaysAreMarked: recordedOk, peakRssMiB, pgbench };
}

/** Returns the exit code: 0 once the run completed, whatever the targets say. */
async function main(): Promise<number> {
  const options = await parseOptions();
  const cleanup = new Cleanup();
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup.run().finally(() => process.exit(code));
    });
  }
  try {
    const report = await run(options, cleanup);
    console.log(formatReport(report, options));
    return report.pgbench.kind === 'failed' ? 1 : 0;
  } finally {
    await cleanup.run();
  }
}

// process.exit, not process.exitCode: embedded-postgres hooks 'beforeExit' and exits with 0.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] the run broke: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
