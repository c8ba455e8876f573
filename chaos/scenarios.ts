import { dataSourceOptions } from '../src/config/data-source-options.js';
import { checkScenario } from './checker.js';
import { ChaosClient, History } from './client.js';
import { PrivateCluster, sleep } from './cluster.js';
import { Random } from './random.js';
import type { ServiceProcess } from '../testing/service-process.js';
import { ADMIN_TOKEN, startService } from './service.js';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { budget, Workload } from './workload.js';

export interface Settings {
  cluster: PrivateCluster;
  seed: number;
  quick: boolean;
}

export interface ScenarioResult {
  name: string;
  /** What this scenario checks beyond the checks every scenario gets (see checker.ts). */
  checks: string;
  requests: number;
  faults: number;
  violations: string[];
  seconds: number;
}

/** What a scenario's checks need: its history, its merchant and the client that can replay. */
export interface Parts {
  history: History;
  merchant: { id: string };
  client: ChaosClient;
}

/** A merchant of its own for each scenario, so the checks can tell their effects apart. */
export async function newMerchant(baseUrl: string, name: string, random: Random): Promise<{ id: string; apiKey: string }> {
  const response = await fetch(`${baseUrl}/v1/merchants`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'idempotency-key': random.uuid(), 'content-type': 'application/json' },
    body: JSON.stringify({ name }),
  });
  const body = (await response.json()) as { id: string; api_key: string };
  return { id: body.id, apiKey: body.api_key };
}

/** Everything a workload scenario shares: services, a merchant, a client, the hot accounts. */
export async function prepare(settings: Settings, name: string, services: ServiceProcess[]) {
  const history = new History();
  const random = new Random(settings.seed);
  const merchant = await newMerchant(services[0]!.url, name, random);
  const client = new ChaosClient(history, merchant.apiKey, () => services.map((service) => service.url), random);
  const workload = await Workload.setUp(client, random);
  return { history, merchant, client, random, workload };
}

/**
 * The end of every scenario: the checks (checker.ts) while the services still run, then the
 * services stopped; a service that exited by itself on the way is a violation.
 */
export async function finish(
  settings: Settings,
  scenario: { name: string; checks: string },
  started: number,
  services: ServiceProcess[],
  parts: Parts,
  faults: number,
): Promise<ScenarioResult> {
  parts.history.databaseFault = false;
  const checked = await checkScenario(settings.cluster.url, parts.merchant.id, parts.history, parts.client, services[0]!.url);
  for (const service of services) await service.kill('SIGTERM');
  const violations = [...services.flatMap((service) => service.unexpectedExits), ...parts.history.violations, ...checked];
  return { ...scenario, requests: parts.history.requests, faults, violations, seconds: (Date.now() - started) / 1000 };
}

/** After a database fault, the service is ready again by itself, without a restart. */
async function awaitRecovery(service: ServiceProcess, history: History, after: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`${service.url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return;
    await sleep(100);
  }
  history.violations.push(`the service did not recover after ${after}`);
}

/** Once a fault is over, requests succeed at their first attempt: the service uses new connections. */
async function firstAttemptsSucceed(parts: Parts, account: string, after: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    const exchange = await parts.client.send('POST', `/v1/accounts/${account}/deposits`, { amount: 1 });
    if (exchange.attempts !== 1 || exchange.final?.status !== 201) {
      parts.history.violations.push(
        `after ${after}: a deposit took ${exchange.attempts} attempts (${exchange.final?.status ?? 'no answer'})`,
      );
    }
  }
}

/** 1. Double-submit storm: every key sent twice at once, with a mixed workload around it. */
export async function doubleSubmitStorm(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const parts = await prepare(settings, 'storm', [service]);
  let storming = true;
  await Promise.all([
    parts.workload.storm(8, budget(settings.quick ? 300 : 1000)).finally(() => (storming = false)),
    parts.workload.run(4, () => storming),
  ]);
  const scenario = { name: '1. double-submit storm + mixed workload', checks: 'twin requests: one answer, one effect' };
  return finish(settings, scenario, started, [service], parts, 0);
}

/** 2. The service SIGKILLed every few seconds under the workload, and restarted. */
export async function serviceKills(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const parts = await prepare(settings, 'kills', [service]);
  const kills = settings.quick ? 3 : 8;
  let running = true;
  const workload = parts.workload.run(8, () => running);
  for (let i = 0; i < kills; i++) {
    await sleep(parts.random.int(1_000, 2_500));
    await service.kill('SIGKILL');
    await service.restart();
  }
  await sleep(500);
  running = false;
  await workload;
  const scenario = { name: '2. service SIGKILL + restart', checks: 'no effect lost or doubled by a crash mid-request' };
  return finish(settings, scenario, started, [service], parts, kills);
}

type Outage = 'immediate' | 'kill' | 'fast';

/**
 * PostgreSQL taken down under load, then started again: during each outage the service answers
 * only 503 (with Retry-After) and is not ready; it stays up, and recovers without a restart.
 */
async function databaseOutages(
  settings: Settings,
  scenario: { name: string; checks: string },
  outages: Outage[],
  downtimeMs: number,
): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const parts = await prepare(settings, 'db-outages', [service]);
  let running = true;
  const workload = parts.workload.run(8, () => running);
  for (const outage of outages) {
    await sleep(1_500);
    parts.history.databaseFault = true;
    if (outage === 'immediate') await settings.cluster.stopImmediate();
    else if (outage === 'kill') await settings.cluster.killPostmaster();
    else await settings.cluster.stopFast();
    // During the outage: not ready, and answers are 503 with Retry-After (checked by the client).
    const ready = await fetch(`${service.url}/health/ready`).then(
      (response) => response.status,
      () => 0,
    );
    if (ready !== 503) parts.history.violations.push(`/health/ready answered ${ready} during the outage`);
    await sleep(downtimeMs);
    await settings.cluster.start();
    await awaitRecovery(service, parts.history, `the ${outage} stop`);
    await sleep(500);
    parts.history.databaseFault = false;
    await firstAttemptsSucceed(parts, parts.workload.accounts[0]!, `the ${outage} stop`);
  }
  await sleep(1_000);
  running = false;
  await workload;
  return finish(settings, scenario, started, [service], parts, outages.length);
}

/** 3. PostgreSQL stopped (-m immediate, then SIGKILL of the postmaster) under load, then restarted. */
export function databaseCrashes(settings: Settings): Promise<ScenarioResult> {
  const scenario = { name: '3. PostgreSQL -m immediate / SIGKILL', checks: 'only 503 while down; process stays up; recovers' };
  return databaseOutages(settings, scenario, ['immediate', 'kill'], settings.quick ? 1_000 : 3_000);
}

/** 4. The service-database connection cut at random points, then a database that stops answering. */
export async function connectionCuts(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const proxy = TcpProxy.forDatabaseUrl(settings.cluster.url);
  await proxy.start();
  const service = await startService(proxy.urlFor(settings.cluster.url));
  const parts = await prepare(settings, 'cuts', [service]);
  let running = true;
  const workload = parts.workload.run(8, () => running);
  const cuts = settings.quick ? 8 : 25;
  let faults = 0;
  parts.history.databaseFault = true;
  for (let i = 0; i < cuts; i++) {
    await sleep(parts.random.int(100, 600));
    if (proxy.dropConnections() > 0) faults++;
  }
  // A database that stops answering for 10 s: every request must end (503) rather than hang.
  const stallStarted = Date.now();
  proxy.stall();
  faults++;
  const during = await parts.client.once(service.url, 'GET', '/v1/balance', undefined, undefined);
  const waited = Date.now() - stallStarted;
  if (during?.status !== 503 || waited > 15_000)
    parts.history.violations.push(`during the stall: ${during?.status ?? 'no answer'} after ${waited} ms`);
  await sleep(Math.max(0, (settings.quick ? 7_000 : 10_000) - waited));
  proxy.resume();
  await sleep(1_000);
  parts.history.databaseFault = false;
  await sleep(1_000);
  running = false;
  await workload;
  const scenario = { name: '4. connection cuts + 10 s stall', checks: '503 rather than a hang; no half-committed request' };
  const result = await finish(settings, scenario, started, [service], parts, faults);
  await proxy.cut();
  return result;
}

/** 5. Two instances on one database, every key sent to both at once. */
export async function twoInstances(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const services = [await startService(settings.cluster.url), await startService(settings.cluster.url)];
  const parts = await prepare(settings, 'two-instances', services);
  const keys = budget(settings.quick ? 300 : 1000);
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (keys()) {
        const body = {
          amount: parts.random.int(1, 300),
          currency: 'usd',
          source: parts.random.pick(parts.workload.accounts),
          capture: parts.random.chance(0.8),
        };
        await parts.client.send('POST', '/v1/charges', body, parts.random.uuid(), true);
      }
    }),
  );
  const scenario = { name: '5. two instances, each key to both', checks: 'both instances give a key the same answer' };
  return finish(settings, scenario, started, services, parts, 0);
}

/** The application_name of the service's sessions, to find them in pg_stat_activity. */
const SERVICE_APPLICATION_NAME = String((dataSourceOptions('').extra as { application_name?: unknown }).application_name);

/**
 * 8. Every session of the service terminated (pg_terminate_backend: 57P01 on its connections)
 * every 50 ms while clients send keyed charges and the mixed workload. The process must stay up,
 * answer 503 with Retry-After (or succeed) meanwhile, and succeed on new connections afterwards.
 */
export async function connectionTerminations(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const parts = await prepare(settings, 'terminations', [service]);
  const admin = await settings.cluster.connect();
  let running = true;
  const load = Promise.all([parts.workload.storm(12, () => running), parts.workload.run(4, () => running)]);
  await sleep(500);
  parts.history.databaseFault = true;
  let terminated = 0;
  for (const faultEnds = Date.now() + (settings.quick ? 4_000 : 10_000); Date.now() < faultEnds;) {
    const { rows } = await admin.query<{ terminated: number }>(
      `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS terminated FROM pg_stat_activity WHERE application_name = $1`,
      [SERVICE_APPLICATION_NAME],
    );
    terminated += rows[0]?.terminated ?? 0;
    await sleep(50);
  }
  await admin.end();
  if (terminated === 0) parts.history.violations.push(`no session named '${SERVICE_APPLICATION_NAME}' was found to terminate`);
  await awaitRecovery(service, parts.history, 'the terminations');
  await sleep(500);
  parts.history.databaseFault = false;
  await firstAttemptsSucceed(parts, parts.workload.accounts[0]!, 'the terminations');
  // The load goes on a little: from now on a 503 is a violation.
  await sleep(1_000);
  running = false;
  await load;
  const scenario = {
    name: '8. sessions terminated every 50 ms',
    checks: 'process survives 57P01; 503 + Retry-After; then new connections',
  };
  return finish(settings, scenario, started, [service], parts, terminated);
}

/** 9. PostgreSQL restarted cleanly (pg_ctl stop -m fast, then start) under load. */
export function databaseRestarts(settings: Settings): Promise<ScenarioResult> {
  const scenario = { name: '9. PostgreSQL restart -m fast', checks: 'process stays up; 503 while down; recovers by itself' };
  return databaseOutages(settings, scenario, settings.quick ? ['fast', 'fast'] : ['fast', 'fast', 'fast', 'fast'], 0);
}
