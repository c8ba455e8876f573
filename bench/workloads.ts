import { randomUUID } from 'node:crypto';
import type { KeyRun } from './ab-plan.js';
import { sql } from './database.js';
import { lua, type Workload } from './wrk.js';

// The bench's merchant and the requests of each phase, as wrk workloads (bench/wrk.ts).

const ACCOUNTS = 200;
const DEPOSIT = 1_000_000_000;

export interface Merchant {
  id: string;
  apiKey: string;
  sources: string[];
}

export async function post(url: string, token: string, route: string, body: unknown, key: string = randomUUID()) {
  const response = await fetch(url + route, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`POST ${route}: ${response.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/** A merchant with ACCOUNTS funded accounts, the sources of its charges. */
export async function setUp(url: string, adminToken: string): Promise<Merchant> {
  const merchant = await post(url, adminToken, '/v1/merchants', { name: 'bench' });
  const apiKey = String(merchant.api_key);
  const sources: string[] = [];
  for (let batch = 0; batch < ACCOUNTS / 20; batch++) {
    sources.push(
      ...(await Promise.all(
        Array.from({ length: 20 }, async () => {
          const account = await post(url, apiKey, '/v1/accounts', { currency: 'usd' });
          await post(url, apiKey, `/v1/accounts/${String(account.id)}/deposits`, { amount: DEPOSIT });
          return String(account.id);
        }),
      )),
    );
  }
  return { id: String(merchant.id), apiKey, sources };
}

/** Charges made once, whose key and body the replay phases repeat. */
export async function recordCharges(url: string, merchant: Merchant, count: number) {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const body = JSON.stringify({ amount: 100, currency: 'usd', source: merchant.sources[i % merchant.sources.length] });
      const key = randomUUID();
      await post(url, merchant.apiKey, '/v1/charges', JSON.parse(body), key);
      return { key, body };
    }),
  );
}

export async function idsOf(url: string, merchantId: string, where: string): Promise<string[]> {
  const [result] = await sql(url, [`SELECT id FROM charges WHERE merchant_id = $1 AND ${where}`], [merchantId]);
  return result!.rows.map((row: { id: string }) => row.id);
}

const freshKey = 'key = prefix .. "-" .. thread_number .. "-" .. counter';

/**
 * The source of a thread's n-th charge: a function of the key, so that the charge can be replayed
 * later (replaysOfOldKeys), and spread so that the threads' requests in flight rarely share an
 * account's row lock.
 */
const sourceOf = (thread: string, n: string) => `sources[((${n} * 7 + ${thread} * 101) % #sources) + 1]`;
const chargeBody = (source: string, capture: boolean) =>
  `string.format('{"amount":100,"currency":"usd","source":"%s"${capture ? '' : ',"capture":false'}}', ${source})`;

export function charges(sources: string[], capture = true): Workload {
  return {
    method: 'POST',
    tables: { sources },
    lua: `path = "/v1/charges"; ${freshKey}
  body = ${chargeBody(sourceOf('thread_number', 'counter'), capture)}`,
  };
}

export const authorize = (sources: string[]) => charges(sources, false);

/** The acquirer latencies the card phases measure, in milliseconds. */
export const ACQUIRER_LATENCIES_MS = [0, 50] as const;

/**
 * Card charges through the acquirer, fresh keys. The simulated acquirer's test cards set its
 * answer (acquirer/README.md): pm_test_ok at once, pm_test_slow_<ms> after that long in flight.
 */
export function cardCharges(acquirerLatencyMs: number): Workload {
  const card = acquirerLatencyMs > 0 ? `pm_test_slow_${acquirerLatencyMs}` : 'pm_test_ok';
  return {
    method: 'POST',
    lua: `path = "/v1/charges"; ${freshKey}
  body = ${lua(JSON.stringify({ amount: 100, currency: 'usd', payment_method: card }))}`,
  };
}

export function replays(keyed: { key: string; body: string }[]): Workload {
  return {
    method: 'POST',
    tables: { keys: keyed.map((k) => k.key), bodies: keyed.map((k) => k.body) },
    lua: `path = "/v1/charges"; local i = math.random(#keys); key = keys[i]; body = bodies[i]`,
  };
}

/**
 * Replays of charges made by earlier charges() phases, walked in order (thread t of this phase takes
 * every `threads`-th key, from the t-th), wrapping round at the end: no key is asked twice within
 * as many answers as the runs hold, so with runs longer than a process's memory every replay is one
 * the process no longer remembers. A key without a record (`missing`) is passed over for the next.
 */
export function replaysOfOldKeys(sources: string[], runs: KeyRun[], threads: number): Workload {
  const missing = runs.flatMap((run) => (run.missing ?? []).map((n) => `${run.prefix}-${run.thread}-${n}`));
  return {
    method: 'POST',
    tables: {
      sources,
      prefixes: runs.map((r) => r.prefix),
      runThreads: runs.map((r) => r.thread),
      counts: runs.map((r) => r.count),
      missingKeys: missing,
    },
    lua: `path = "/v1/charges"
  if total == nil then
    total = 0
    for _, n in ipairs(counts) do total = total + n end
    missing = {}
    for _, k in ipairs(missingKeys) do missing[k] = true end
  end
  local j = ((counter - 1) * ${lua(threads)} + thread_number - 1) % total
  local run, n
  local tries = 0
  repeat
    tries = tries + 1
    local i = j
    run = 1
    while i >= counts[run] do i = i - counts[run]; run = run + 1 end
    n = i + 1
    key = prefixes[run] .. "-" .. runThreads[run] .. "-" .. n
    j = (j + 1) % total
  until not missing[key] or tries > total
  body = ${chargeBody(sourceOf('runThreads[run]', 'n'), true)}`,
  };
}

/** Each authorisation captured once: thread t takes every t-th id, in turn. */
export function capture(ids: string[]): Workload {
  return {
    method: 'POST',
    tables: { ids },
    lua: `${freshKey}; body = "{}"
  local i = ((counter - 1) * 2 + thread_number - 1) % #ids + 1
  path = "/v1/charges/" .. ids[i] .. "/capture"`,
  };
}

export function refund(ids: string[]): Workload {
  return { method: 'POST', tables: { ids }, lua: `${freshKey}; body = '{"amount":1}'; path = "/v1/charges/" .. pick(ids) .. "/refunds"` };
}

export function deposit(sources: string[]): Workload {
  return {
    method: 'POST',
    tables: { sources },
    lua: `${freshKey}; body = '{"amount":100}'; path = "/v1/accounts/" .. pick(sources) .. "/deposits"`,
  };
}

export function upsert(): Workload {
  return { method: 'PUT', lua: `${freshKey}; body = '{"currency":"usd","name":"bench"}'; path = "/v1/accounts/" .. key` };
}

export function reads(source: string): [string, Workload][] {
  const get = (route: string): Workload => ({ method: 'GET', lua: `path = ${lua(route)}` });
  return [
    ['GET /v1/balance', get('/v1/balance')],
    ['GET /v1/charges?limit=10', get('/v1/charges?limit=10')],
    ['GET /v1/charges?source=…&limit=10', get(`/v1/charges?source=${source}&limit=10`)],
    ['GET /v1/charges/{id}', get('/v1/charges/ch_hist_12345')],
    ['GET /v1/accounts/{id}/entries?limit=10', get(`/v1/accounts/${source}/entries?limit=10`)],
  ];
}
