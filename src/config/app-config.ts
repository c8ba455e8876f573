import { randomBytes } from 'node:crypto';
import { CRASH_POINTS, type CrashPoint, type CrashSettings } from '../card-charges/crash-points.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** The service's configuration, read once from the environment at start (contract: Configuration). */
export interface AppConfig {
  port: number;
  /** Unset: the service starts an embedded PostgreSQL under `.data/`. */
  databaseUrl: string | undefined;
  adminToken: string;
  /** True when ADMIN_TOKEN was unset and a token was generated for this run (printed once). */
  adminTokenGenerated: boolean;
  idempotencyTtlSeconds: number;
  /** How many recorded answers a process keeps in memory to replay without the database (0: none). */
  replayMemoryEntries: number;
  /** Requests per second per API key; 0 disables rate limiting. */
  rateLimitPerSecond: number;
  /** Where the rate limits' buckets live, shared by every instance; unset: in this process. */
  redisUrl: string | undefined;
  /** Prefix of every key the service writes in Redis (deployments sharing a Redis keep apart). */
  redisKeyPrefix: string;
  /**
   * Whether the hot path's statements are named prepared statements (parsed once per connection).
   * Off behind a transaction pooler that cannot keep them (PgBouncer before 1.21, Debian 12's 1.18).
   */
  preparedStatements: boolean;
  /**
   * How long a connection of the request path's pool may sit idle before it is closed (0: never).
   * A connection opened again costs its first requests a new server process and its first parse of
   * every statement: the charges after a lull of pg-pool's 10 s default paid it (docs/scaling.md).
   */
  databasePoolIdleSeconds: number;
  /**
   * How long an instance trusts what it looked up of an API key: a key revoked or expired on
   * another instance stops working here within this bound (0: look every key up on every request).
   */
  apiKeyCacheMs: number;
  logLevel: LogLevel;
  /** The card acquirer's base URL (acquirer/README.md). */
  acquirerUrl: string;
  /** How long one request to the acquirer may take before it counts as indeterminate. */
  acquirerTimeoutMs: number;
  /** How long a card charge's POST waits for a definitive answer before it answers 202 pending. */
  chargeWaitMs: number;
  /** How long a worker holds an unfinished card key; more than acquirerTimeoutMs plus tx3 (checked). */
  idempotencyLeaseSeconds: number;
  /** Indeterminate answers after which a resumed key reads the acquirer's lookup before calling again. */
  acquirerLookupAfterAttempts: number;
  /** Consecutive unreachable answers that open the acquirer's circuit, and how long it stays open. */
  acquirerCircuitThreshold: number;
  acquirerCircuitOpenMs: number;
  /** How long the acquirer keeps a key (its ACQUIRER_KEY_TTL_SECONDS); the resend horizon is a quarter of it. */
  acquirerKeyTtlSeconds: number;
  /** Run the completer loop in this process. */
  completerEnabled: boolean;
  /** An unfinished key is the completer's only once it is this old. */
  completerGraceSeconds: number;
  completerIntervalMs: number;
  /** How often the ledger's invariants are checked (ledger/ledger-check.service.ts); 0: never. */
  ledgerCheckIntervalSeconds: number;
  /** Test only (NODE_ENV=test): SIGKILL the process at these boundaries of a card charge's phases. */
  cardChargeCrash: CrashSettings | undefined;
  /** Test only (NODE_ENV=test): send the acquirer no Idempotency-Key, so the checker must see double captures. */
  acquirerKeyStripped: boolean;
  /** How long events are kept and served (GET /v1/events); 30 days. */
  eventRetentionSeconds: number;
  /** Run the webhook delivery worker in this process (npm run worker runs it alone). */
  webhookWorkerEnabled: boolean;
  /** Whether an endpoint may be http:// to a loopback address (tests, the example); never in production. */
  webhookAllowHttpLoopback: boolean;
  /** How long one delivery attempt may take, connection to last byte of the answer. */
  webhookTimeoutMs: number;
  /**
   * The waits before each retry, in ms: a delivery is given up after the last one. Each wait is
   * drawn between 80 % and 120 % of its value (jitter).
   */
  webhookRetryScheduleMs: number[];
  /**
   * How long an endpoint must have failed without a single success before a failure disables it.
   * By default the shortest the whole schedule can take (every wait at 80 %): a delivery that spent
   * its schedule on a failing endpoint disables it.
   */
  webhookDisableAfterSeconds: number;
  /** How often an idle worker looks for due deliveries. */
  webhookPollIntervalMs: number;
  /** Deliveries one worker claims and sends at once. */
  webhookConcurrency: number;
  /** How long a roll_secret keeps the previous secret signing when expires_in is left out. */
  webhookSecretOverlapSeconds: number;
}

/** Svix's schedule, stretched over about three days (contract: Webhooks). */
export const DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS = [
  5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, 36_000_000, 36_000_000, 36_000_000, 36_000_000,
];

/** What tx3 may take at most after the acquirer's answer: the lease's margin over the call's timeout. */
export const LEASE_MARGIN_MS = 5_000;

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Thrown at start for a bad variable; the message names the variable. */
export class ConfigError extends Error {}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be a whole number, got "${raw}"`);
  const value = Number(raw.trim());
  if (value < min || value > max) throw new ConfigError(`${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

function onOff(env: NodeJS.ProcessEnv, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['on', 'true', '1'].includes(raw)) return true;
  if (['off', 'false', '0'].includes(raw)) return false;
  throw new ConfigError(`${name} must be on or off, got "${env[name]}"`);
}

function redisUrl(env: NodeJS.ProcessEnv): string | undefined {
  const raw = env.REDIS_URL;
  if (raw === undefined || raw === '') return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL');
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError('REDIS_URL must be a redis:// or rediss:// URL with a host');
  }
  return raw;
}

function redisKeyPrefix(env: NodeJS.ProcessEnv): string {
  const raw = env.REDIS_KEY_PREFIX;
  if (raw === undefined || raw === '') return 'payments';
  if (!/^[A-Za-z0-9:._-]{1,100}$/.test(raw)) throw new ConfigError('REDIS_KEY_PREFIX must be 1-100 letters, digits or : . _ -');
  return raw;
}

function acquirerUrl(env: NodeJS.ProcessEnv): string {
  const raw = env.ACQUIRER_URL;
  if (raw === undefined || raw === '') return 'http://127.0.0.1:4100';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('ACQUIRER_URL must be an http:// or https:// URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError('ACQUIRER_URL must be an http:// or https:// URL');
  return raw.replace(/\/+$/, '');
}

/** A number from 0 to 1. */
function share(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw.trim());
  if (!/^\d*\.?\d+$/.test(raw.trim()) || value > 1) throw new ConfigError(`${name} must be a number from 0 to 1, got "${raw}"`);
  return value;
}

/**
 * The card charges' test-only hooks (the chaos harness and test/card-crash.e2e-spec.ts). Refused at
 * start unless NODE_ENV=test: a production process can never crash itself on purpose nor send the
 * acquirer a request without its key.
 */
function testHooks(env: NodeJS.ProcessEnv): Pick<AppConfig, 'cardChargeCrash' | 'acquirerKeyStripped'> {
  const crashAt = env.CARD_CHARGE_CRASH_AT?.trim() ?? '';
  const acquirerKeyStripped = onOff(env, 'CARD_CHARGE_STRIP_ACQUIRER_KEY', false);
  const given = [
    'CARD_CHARGE_CRASH_AT',
    'CARD_CHARGE_CRASH_PROBABILITY',
    'CARD_CHARGE_CRASH_SEED',
    'CARD_CHARGE_STRIP_ACQUIRER_KEY',
  ].filter((name) => env[name] !== undefined && env[name] !== '');
  if (given.length > 0 && env.NODE_ENV !== 'test') {
    throw new ConfigError(`${given.join(', ')}: test-only hooks, refused unless NODE_ENV=test`);
  }
  let cardChargeCrash: CrashSettings | undefined;
  if (crashAt !== '') {
    const points = crashAt.split(',').map((point) => point.trim());
    const unknown = points.filter((point) => !(CRASH_POINTS as readonly string[]).includes(point));
    if (unknown.length > 0) throw new ConfigError(`CARD_CHARGE_CRASH_AT: unknown ${unknown.join(', ')}; known: ${CRASH_POINTS.join(', ')}`);
    cardChargeCrash = {
      points: points as CrashPoint[],
      probability: share(env, 'CARD_CHARGE_CRASH_PROBABILITY', 1),
      seed: integer(env, 'CARD_CHARGE_CRASH_SEED', 0, 0, 2 ** 32 - 1),
    };
  }
  return { cardChargeCrash, acquirerKeyStripped };
}

function retrySchedule(env: NodeJS.ProcessEnv): number[] {
  const raw = env.WEBHOOK_RETRY_SCHEDULE_MS;
  if (raw === undefined || raw.trim() === '') return DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS;
  const parts = raw.split(',').map((part) => part.trim());
  if (parts.length > 50 || !parts.every((part) => /^\d{1,10}$/.test(part)))
    throw new ConfigError('WEBHOOK_RETRY_SCHEDULE_MS must be up to 50 comma-separated whole numbers of milliseconds');
  return parts.map(Number);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const databaseUrl = env.DATABASE_URL === undefined || env.DATABASE_URL === '' ? undefined : env.DATABASE_URL;
  if (databaseUrl !== undefined && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new ConfigError('DATABASE_URL must be a postgres:// or postgresql:// connection string');
  }
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${env.LOG_LEVEL}"`);
  }
  const adminToken = env.ADMIN_TOKEN;
  if (adminToken !== undefined && adminToken !== '' && adminToken.length < 16) {
    throw new ConfigError('ADMIN_TOKEN must be at least 16 characters');
  }
  const acquirerTimeoutMs = integer(env, 'ACQUIRER_TIMEOUT_MS', 10_000, 1, 600_000);
  const idempotencyLeaseSeconds = integer(env, 'IDEMPOTENCY_LEASE_SECONDS', 30, 1, 86_400);
  if (idempotencyLeaseSeconds * 1000 <= acquirerTimeoutMs + LEASE_MARGIN_MS) {
    throw new ConfigError(
      `IDEMPOTENCY_LEASE_SECONDS (${idempotencyLeaseSeconds}) must exceed ACQUIRER_TIMEOUT_MS (${acquirerTimeoutMs}) plus ${LEASE_MARGIN_MS} ms for the transaction that records the answer`,
    );
  }
  const schedule = retrySchedule(env);
  return {
    acquirerUrl: acquirerUrl(env),
    acquirerTimeoutMs,
    chargeWaitMs: integer(env, 'CHARGE_WAIT_MS', 5_000, 0, 600_000),
    idempotencyLeaseSeconds,
    acquirerLookupAfterAttempts: integer(env, 'ACQUIRER_LOOKUP_AFTER_ATTEMPTS', 3, 1, 100),
    acquirerCircuitThreshold: integer(env, 'ACQUIRER_CIRCUIT_THRESHOLD', 5, 1, 1_000),
    acquirerCircuitOpenMs: integer(env, 'ACQUIRER_CIRCUIT_OPEN_MS', 5_000, 1, 600_000),
    acquirerKeyTtlSeconds: integer(env, 'ACQUIRER_KEY_TTL_SECONDS', 86_400, 60, 31 * 86_400),
    completerEnabled: onOff(env, 'COMPLETER_ENABLED', false),
    completerGraceSeconds: integer(env, 'COMPLETER_GRACE_SECONDS', 60, 0, 86_400),
    completerIntervalMs: integer(env, 'COMPLETER_INTERVAL_MS', 5_000, 10, 3_600_000),
    ledgerCheckIntervalSeconds: integer(env, 'LEDGER_CHECK_INTERVAL_SECONDS', 300, 0, 86_400),
    ...testHooks(env),
    eventRetentionSeconds: integer(env, 'EVENT_RETENTION_SECONDS', 30 * 86_400, 60, 366 * 86_400),
    webhookWorkerEnabled: onOff(env, 'WEBHOOK_WORKER_ENABLED', false),
    webhookAllowHttpLoopback: onOff(env, 'WEBHOOK_ALLOW_HTTP_LOOPBACK', false),
    webhookTimeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 1, 120_000),
    webhookRetryScheduleMs: schedule,
    webhookDisableAfterSeconds: integer(
      env,
      'WEBHOOK_DISABLE_AFTER_SECONDS',
      Math.floor((schedule.reduce((sum, wait) => sum + wait, 0) * 0.8) / 1000),
      0,
      366 * 86_400,
    ),
    webhookPollIntervalMs: integer(env, 'WEBHOOK_POLL_INTERVAL_MS', 1_000, 10, 3_600_000),
    webhookConcurrency: integer(env, 'WEBHOOK_CONCURRENCY', 10, 1, 1_000),
    webhookSecretOverlapSeconds: integer(env, 'WEBHOOK_SECRET_OVERLAP_SECONDS', 86_400, 0, 7 * 86_400),
    port: integer(env, 'PORT', 3000, 0, 65535),
    databaseUrl,
    adminToken: adminToken || `admin_${randomBytes(24).toString('base64url')}`,
    adminTokenGenerated: !adminToken,
    idempotencyTtlSeconds: integer(env, 'IDEMPOTENCY_TTL_SECONDS', 86400, 1, 31 * 86400),
    replayMemoryEntries: integer(env, 'REPLAY_MEMORY_ENTRIES', 2_000, 0, 100_000),
    rateLimitPerSecond: integer(env, 'RATE_LIMIT_PER_SECOND', 100, 0, 1_000_000),
    redisUrl: redisUrl(env),
    redisKeyPrefix: redisKeyPrefix(env),
    preparedStatements: onOff(env, 'DATABASE_PREPARED_STATEMENTS', true),
    databasePoolIdleSeconds: integer(env, 'DATABASE_POOL_IDLE_SECONDS', 300, 0, 86_400),
    apiKeyCacheMs: integer(env, 'API_KEY_CACHE_MS', 1000, 0, 60_000),
    logLevel: logLevel as LogLevel,
  };
}
