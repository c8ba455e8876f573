import { CRASH_POINTS } from '../src/card-charges/crash-points.js';
import { freePort } from '../src/common/free-port.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { acquirerCaptures, cardInvariantViolations, type CardInvariantViolations } from '../testing/card-invariants.js';
import { ResponseLosingProxy } from '../testing/response-losing-proxy.js';
import { ServiceProcess, spawnService, waitUntilReady, type SpawnedService } from '../testing/service-process.js';
import { ChaosClient, History } from './client.js';
import { sleep } from './cluster.js';
import { Random } from './random.js';
import { finish, newMerchant, type Parts, type ScenarioResult, type Settings } from './scenarios.js';
import { ADMIN_TOKEN } from './service.js';

// Card charges (issue 20) under chaos: the service's kill hook at each boundary of the phases and
// at random, the acquirer's seeded faults, the acquirer down and SIGKILLed, a proxy that cuts the
// service↔acquirer connection once the request is sent, clients that walk away from their keys, two
// instances and their completers racing on every expired lease. After each run the completer
// drains, the walked-away clients come back, and besides every scenario's checks (checker.ts) the
// card invariants (testing/card-invariants.ts) are checked against the acquirer's /_captures.

/** The acquirer call times out in 0.9 s, so the lease must be over 5.9 s (the call + the 5 s margin for tx3). */
const ACQUIRER_TIMEOUT_MS = 900;
const LEASE_SECONDS = 6;
/** A card charge's POST waits this long for a definitive answer before 202 pending. */
const CHARGE_WAIT_MS = 300;
/** How long the completers get to finish every key once the clients stop. */
const DRAIN_TIMEOUT_MS = 60_000;

/** The service's environment for card charges against `acquirerUrl`; `completerGraceSeconds` 0 races every expired lease. */
function cardEnv(acquirerUrl: string, completerGraceSeconds = 1): Record<string, string> {
  return {
    ACQUIRER_URL: acquirerUrl,
    ACQUIRER_TIMEOUT_MS: String(ACQUIRER_TIMEOUT_MS),
    IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
    CHARGE_WAIT_MS: String(CHARGE_WAIT_MS),
    ACQUIRER_LOOKUP_AFTER_ATTEMPTS: '3',
    ACQUIRER_CIRCUIT_THRESHOLD: '5',
    ACQUIRER_CIRCUIT_OPEN_MS: '1000',
    COMPLETER_ENABLED: 'on',
    COMPLETER_GRACE_SECONDS: String(completerGraceSeconds),
    COMPLETER_INTERVAL_MS: '200',
  };
}

/** A card scenario's moving parts: its own acquirer, its client and history, the keys walked away from. */
class CardRun {
  readonly history = new History();
  readonly random: Random;
  readonly abandoned: { key: string; body: Record<string, unknown> }[] = [];
  urls: string[] = [];
  client!: ChaosClient;
  merchant!: { id: string; apiKey: string };

  constructor(
    readonly settings: Settings,
    readonly acquirer: AcquirerProcess,
  ) {
    this.random = new Random(settings.seed);
  }

  static async start(settings: Settings, faults: string): Promise<CardRun> {
    const acquirer = await AcquirerProcess.start({ faults, echo: true });
    return new CardRun(settings, acquirer);
  }

  /** The merchant of this run, made through `baseUrl`; the client then sends to `urls()` (first attempts to the first). */
  async open(baseUrl: string, name: string, urls: string[]): Promise<void> {
    this.urls = urls;
    this.merchant = await newMerchant(baseUrl, name, this.random);
    this.client = new ChaosClient(this.history, this.merchant.apiKey, () => this.urls, this.random);
  }

  get parts(): Parts {
    return { history: this.history, merchant: this.merchant, client: this.client };
  }

  /**
   * `workers` clients each sending new card charges one after another until `until()` is false:
   * each key repeated until a definitive answer (201 or 402), sent to every instance at once with
   * `toAll`, or walked away from after its first attempt with `abandon`.
   */
  async load(workers: number, until: () => boolean, cards: () => string, options: { abandon?: number; toAll?: number } = {}) {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (until()) await this.charge(cards(), options);
      }),
    );
  }

  async charge(paymentMethod: string, options: { abandon?: number; toAll?: number } = {}): Promise<void> {
    const body = { amount: this.random.int(100, 9_999), currency: 'usd', payment_method: paymentMethod };
    const key = this.random.uuid();
    if (this.random.chance(options.abandon ?? 0)) {
      this.abandoned.push({ key, body });
      await this.client.once(this.urls[0]!, 'POST', '/v1/charges', body, key);
      return;
    }
    await this.client.send('POST', '/v1/charges', body, key, this.random.chance(options.toAll ?? 0));
  }

  /** Waits until no key of this run's merchant is unfinished (the completers finish them); those left are the card checker's. */
  async drain(): Promise<void> {
    const db = await this.settings.cluster.connect();
    try {
      for (const giveUpAt = Date.now() + DRAIN_TIMEOUT_MS; Date.now() < giveUpAt;) {
        const { rows } = await db.query<{ left: number }>(
          `SELECT count(*)::int AS left FROM idempotency_keys WHERE merchant_id = $1 AND recovery_point IN ('started', 'acquirer_called')`,
          [this.merchant.id],
        );
        if (rows[0]?.left === 0) return;
        await sleep(200);
      }
    } finally {
      await db.end();
    }
  }

  /** The clients that walked away come back with the same key and body: a replay of what the completer finished, or (rolled back) a new charge. */
  async returnAbandoned(): Promise<void> {
    const queue = [...this.abandoned];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let next = queue.pop(); next; next = queue.pop()) await this.client.send('POST', '/v1/charges', next.body, next.key);
      }),
    );
  }

  /** The card invariants against the acquirer's captures, every key drained. */
  async cardViolations(): Promise<CardInvariantViolations> {
    const db = await this.settings.cluster.connect();
    try {
      return await cardInvariantViolations(
        async (sql, parameters) => (await db.query<Record<string, unknown>>(sql, parameters)).rows,
        await acquirerCaptures(this.acquirer.url),
        [this.merchant.id],
        { drained: true },
      );
    } finally {
      await db.end();
    }
  }

  /**
   * The end of a card scenario: drained, the walked-away clients back, the card invariants and
   * every scenario's checks (finish), the acquirer closed. `own`: the scenario's own violations
   * (a fault that did not happen as it should, so the run proved nothing).
   */
  async finish(
    scenario: { name: string; checks: string },
    started: number,
    services: ServiceProcess[],
    faults: number,
    own: string[] = [],
  ): Promise<ScenarioResult> {
    await this.drain();
    await this.returnAbandoned();
    await this.drain();
    const card = await this.cardViolations();
    const result = await finish(this.settings, scenario, started, services, this.parts, faults);
    await this.acquirer.close();
    const cardLines = (Object.entries(card) as [string, unknown[]][]).flatMap(([name, rows]) =>
      rows.length > 0 ? [`${name}: ${rows.length}: ${JSON.stringify(rows.slice(0, 3)).slice(0, 400)}`] : [],
    );
    return { ...result, violations: [...result.violations, ...this.acquirer.unexpectedExits, ...cardLines, ...own] };
  }
}

/** A service process of the harness with card charges against `acquirerUrl`, and `env` on top. */
function cardService(settings: Settings, acquirerUrl: string, env: Record<string, string> = {}, crashesOnPurpose = false) {
  return ServiceProcess.start({
    databaseUrl: settings.cluster.url,
    adminToken: ADMIN_TOKEN,
    echo: true,
    env: { ...cardEnv(acquirerUrl), ...env },
    crashesOnPurpose,
  });
}

/** Mild acquirer faults, for scenarios whose faults are elsewhere. */
const MILD_FAULTS = (seed: number) => `seed=${seed},latency_ms=0-30,lost_answer=0.05,decline=0.05`;

/**
 * 13. The service SIGKILLed by its test-only hook at each boundary of the phases (after tx1,
 * after tx2, in the call, after the answer, after tx3), each on an instance of its own while a
 * steady instance takes the retries; then an instance armed at every boundary with a small
 * chance each, killing itself at random under load and restarted each time.
 */
export async function cardKills(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const run = await CardRun.start(settings, MILD_FAULTS(settings.seed));
  const steady = await cardService(settings, run.acquirer.url);
  await run.open(steady.url, 'card-kills', [steady.url]);
  const own: string[] = [];
  let faults = 0;

  // Every instance this scenario needs starts at once (their starts overlap); each boundary then in
  // turn: its armed instance takes the first attempts and must die there.
  const armedInstances = CRASH_POINTS.map((point) => armedInstance(settings, run.acquirer.url, point));
  const chaoticStarting = cardService(
    settings,
    run.acquirer.url,
    {
      NODE_ENV: 'test',
      CARD_CHARGE_CRASH_AT: CRASH_POINTS.join(','),
      CARD_CHARGE_CRASH_PROBABILITY: '0.01',
      CARD_CHARGE_CRASH_SEED: String(settings.seed),
    },
    true,
  );
  const retries: Promise<void>[] = [];
  for (const [index, point] of CRASH_POINTS.entries()) {
    const armed = await armedInstances[index]!;
    run.urls = [armed.url, steady.url];
    for (let i = 0; i < 3; i++) retries.push(run.charge('pm_card_visa'));
    const died = await Promise.race([armed.spawned.exited.then(() => true), sleep(20_000).then(() => false)]);
    if (!died || armed.spawned.child.signalCode !== 'SIGKILL') {
      own.push(
        `the instance armed at ${point} did not SIGKILL itself (${died ? `exited ${armed.spawned.child.exitCode}` : 'still running'})`,
      );
      armed.spawned.child.kill('SIGKILL');
    } else faults++;
    run.urls = [steady.url];
  }
  await Promise.all(retries);

  // At random under load: every boundary armed with a small chance, the instance restarted after each kill.
  const chaotic = await chaoticStarting;
  run.urls = [chaotic.url, steady.url];
  let loading = true;
  const load = run.load(
    6,
    () => loading,
    () => run.random.pick(['pm_card_visa', 'pm_card_visa', 'pm_test_slow_500']),
  );
  await sleep(settings.quick ? 8_000 : 45_000);
  loading = false;
  await load;
  faults += chaotic.crashes;
  if (chaotic.crashes === 0) own.push('the instance armed at random never killed itself: nothing was tested');

  const scenario = {
    name: '13. card charges: SIGKILL at each boundary, and at random under load',
    checks: 'one capture per key, each in the ledger once, whatever boundary the crash hit',
  };
  return run.finish(scenario, started, [steady, chaotic], faults, own);
}

/** An instance that SIGKILLs itself the first time a card charge passes `point` (no completer: the boundary is the request's). */
async function armedInstance(settings: Settings, acquirerUrl: string, point: string): Promise<{ url: string; spawned: SpawnedService }> {
  const port = await freePort();
  const spawned = spawnService(
    {
      ...cardEnv(acquirerUrl),
      COMPLETER_ENABLED: 'off',
      PORT: String(port),
      DATABASE_URL: settings.cluster.url,
      ADMIN_TOKEN: ADMIN_TOKEN,
      RATE_LIMIT_PER_SECOND: '0',
      LOG_LEVEL: 'error',
      NODE_ENV: 'test',
      CARD_CHARGE_CRASH_AT: point,
    },
    { echo: true },
  );
  const url = `http://127.0.0.1:${port}`;
  if (!(await waitUntilReady(url, spawned.child))) throw new Error(`the instance armed at ${point} did not start: ${spawned.output()}`);
  return { url, spawned };
}

/**
 * 14. The acquirer misbehaving under load: lost answers and timeouts (10 % each), cached 500s
 * (lookup path), 503s, declines; a proxy that cuts the connection once the request has reached
 * the acquirer; cards slower than CHARGE_WAIT_MS (202 path) and slower than the lease (every call
 * times out, the lookup finds the capture); the acquirer down (30 s, 6 s quick), then SIGKILLed
 * mid-call and restarted.
 */
export async function cardAcquirerFaults(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const seed = settings.seed;
  const run = await CardRun.start(
    settings,
    `seed=${seed},latency_ms=0-40,timeout=0.1,lost_answer=0.1,error500=0.05,transient503=0.03,decline=0.05,timeout_ms=1500`,
  );
  const proxy = new ResponseLosingProxy(run.acquirer.port);
  await proxy.start();
  const service = await cardService(settings, proxy.baseUrl);
  await run.open(service.url, 'card-acquirer-faults', [service.url]);
  const own: string[] = [];
  let faults = 0;

  let loading = true;
  const cards = () =>
    run.random.pick([
      'pm_card_visa',
      'pm_card_visa',
      'pm_card_visa',
      'pm_card_visa',
      'pm_card_visa',
      'pm_test_slow_600', // slower than CHARGE_WAIT_MS: 202, then the repeat gets the capture
      'pm_test_500', // a cached 500 that made nothing: the lookup fails it
      'pm_test_500_captured', // a cached 500 that captured: the lookup finds it
    ]);
  const load = run.load(6, () => loading, cards);
  // Slower than the lease: every call times out, repeats meet 409 in flight, the lookup finds the capture.
  const slowerThanTheLease = Promise.all([0, 1].map(() => run.charge(`pm_test_slow_${(LEASE_SECONDS + 1) * 1000}`)));
  // The proxy cuts a connection after the request went through, now and then, all along.
  let cutting = true;
  const cuts = (async () => {
    while (cutting) {
      proxy.dropResponses(1);
      await sleep(run.random.int(200, 600));
    }
  })();

  await sleep(settings.quick ? 4_000 : 10_000);
  // Down: refused connections, the circuit opens (503 acquirer_unavailable for keys at started, 202 for the rest).
  await run.acquirer.stop();
  faults++;
  await sleep(settings.quick ? 6_000 : 30_000);
  await run.acquirer.restart();
  await sleep(3_000);
  // SIGKILLed with calls in flight (the slow cards' are always), then back on its journal.
  await run.acquirer.kill();
  faults++;
  await sleep(500);
  await run.acquirer.restart();
  await sleep(settings.quick ? 3_000 : 10_000);
  loading = false;
  await load;
  await slowerThanTheLease;
  cutting = false;
  await cuts;
  faults += proxy.lost;
  if (proxy.lost === 0) own.push('the proxy cut no connection after a request was sent');

  const scenario = {
    name: '14. card charges: acquirer faults, down 30 s, SIGKILLed, TCP cut after send',
    checks: 'no capture lost or doubled; lost answers, 500s and timeouts resolved by repeat or lookup',
  };
  const result = await run.finish(scenario, started, [service], faults, own);
  await proxy.close();
  return result;
}

/** The lease-lost count an instance reports (idempotency_lease_lost_total). */
async function leasesLost(service: ServiceProcess): Promise<number> {
  const text = await fetch(`${service.url}/metrics`).then(
    (response) => response.text(),
    () => '',
  );
  return Number(/^idempotency_lease_lost_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/**
 * 15. Two instances, each with a completer that takes every expired lease at once (grace 0),
 * racing the clients' retries; a share of keys sent to both instances at once, a share walked away
 * from after the first attempt (the completers finish them, the clients come back later); then
 * one instance frozen (SIGSTOP) past the lease with its calls out, so the other takes its keys
 * over, and thawed: its late results must be dropped (fencing).
 */
export async function cardRaces(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const run = await CardRun.start(
    settings,
    `seed=${settings.seed},latency_ms=20-150,lost_answer=0.15,timeout=0.05,decline=0.05,timeout_ms=1500`,
  );
  const services = [
    await cardService(settings, run.acquirer.url, { COMPLETER_GRACE_SECONDS: '0' }),
    await cardService(settings, run.acquirer.url, { COMPLETER_GRACE_SECONDS: '0' }),
  ];
  const [frozen, other] = services as [ServiceProcess, ServiceProcess];
  await run.open(frozen.url, 'card-races', [frozen.url, other.url]);
  const own: string[] = [];

  let loading = true;
  const cards = () => run.random.pick(['pm_card_visa', 'pm_card_visa', 'pm_card_visa', 'pm_test_slow_400']);
  const load = run.load(6, () => loading, cards, { abandon: 0.25, toAll: 0.3 });
  await sleep(settings.quick ? 4_000 : 15_000);
  const lostBefore = await leasesLost(frozen);
  // The freeze's sync point: a charge on a card slower than the POST's wait answers 202 while its
  // worker on this instance is still in the call (it times out only after ACQUIRER_TIMEOUT_MS).
  const probe = { key: run.random.uuid(), body: { amount: 777, currency: 'usd', payment_method: 'pm_test_slow_2000' } };
  run.abandoned.push(probe);
  const pending = await run.client.once(frozen.url, 'POST', '/v1/charges', probe.body, probe.key);
  frozen.pause();
  if (pending?.status !== 202) own.push(`the freeze's probe got ${pending?.status ?? 'no answer'}, not 202 with its call out`);
  await sleep((LEASE_SECONDS + 2) * 1000);
  frozen.resume();
  await sleep(settings.quick ? 3_000 : 15_000);
  loading = false;
  await load;
  const fenced = (await leasesLost(frozen)) - lostBefore;
  if (fenced === 0) own.push('the frozen instance lost no lease: the fencing path did not run');

  const scenario = {
    name: '15. card charges: abandoned keys, two instances + completers racing, a frozen instance',
    checks: 'completer finishes walked-away keys; a late worker past its lease writes nothing',
  };
  return run.finish(scenario, started, services, run.abandoned.length + fenced, own);
}

/**
 * 16. The checker's own test under chaos: a service that sends the acquirer no Idempotency-Key
 * (a test-only switch), with lost answers at 20 %, must be caught double-capturing. This scenario
 * passes only when the card checker reports every double capture the acquirer made.
 */
export async function cardKeyStripped(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const run = await CardRun.start(settings, `seed=${settings.seed},latency_ms=0-20,lost_answer=0.2`);
  const service = await cardService(settings, run.acquirer.url, { NODE_ENV: 'test', CARD_CHARGE_STRIP_ACQUIRER_KEY: 'on' });
  await run.open(service.url, 'card-key-stripped', [service.url]);
  let left = settings.quick ? 60 : 200;
  await run.load(
    4,
    () => left-- > 0,
    () => 'pm_card_visa',
  );
  await run.drain();
  const card = await run.cardViolations();
  const perCharge = new Map<string, number>();
  for (const capture of await acquirerCaptures(run.acquirer.url))
    if (capture.reference) perCharge.set(capture.reference, (perCharge.get(capture.reference) ?? 0) + 1);
  const doubled = [...perCharge].filter(([, count]) => count > 1).map(([charge]) => charge);
  // Without the key every capture is key-less, and the checker reports each one: a doubled charge must be among them.
  const reported = new Set(card.doubleCaptures.map((entry) => (entry as { keyless?: { reference?: string } }).keyless?.reference));
  const missed = doubled.filter((charge) => !reported.has(charge));
  const caught = doubled.length - missed.length;
  const own: string[] = [];
  if (doubled.length === 0) own.push('no charge was captured twice without the downstream key: the run proves nothing');
  if (missed.length > 0)
    own.push(`the card checker missed the double captures of ${missed.length} charges: ${missed.slice(0, 5).join(', ')}`);
  // Everything else must hold as in any run: the ledger holds one capture per charge.
  const scenario = {
    name: '16. downstream key stripped: the checker must catch double captures',
    checks: `passes only if the card checker reports every charge captured twice (${caught} of ${doubled.length})`,
  };
  const result = await finish(settings, scenario, started, [service], run.parts, doubled.length);
  await run.acquirer.close();
  return { ...result, violations: [...result.violations, ...run.acquirer.unexpectedExits, ...own] };
}
