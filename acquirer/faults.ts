import { createHash } from 'node:crypto';

// What goes wrong with one request, decided before it is handled. A draw depends only on the
// seed, the idempotency key and the key's attempt number, never on timing or on other requests,
// so a run replays from its seed and a retry (attempt 2, 3, ...) can draw something else.

/**
 * - `timeout`: the request is dropped before it is handled: no effect and no answer; the
 *   connection is closed after `timeout_ms` unless the client gave up first.
 * - `transient503`: `503` with `Transient-Error: true`, no effect, nothing stored under the key.
 * - `error500`: `500`, cached under the key; the payment was made or not (`error500_captured`).
 * - `lost_answer`: the payment is made and stored, then the connection is reset with no answer.
 * - `decline`: `402` with a `decline_code`, cached under the key.
 */
export const FAULT_KINDS = ['timeout', 'transient503', 'error500', 'lost_answer', 'decline'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface Fault {
  kind: FaultKind | 'none';
  /** Waited while the request is handled (its key in flight) before anything else happens. */
  latencyMs: number;
  /** For `error500`: whether the payment was made before the 500. */
  captured: boolean;
  /** For `decline`. */
  declineCode: string;
}

export interface FaultConfig {
  seed: string;
  latencyMs: { min: number; max: number };
  /** The chance of each fault per request; they exclude each other, so they sum to at most 1. */
  probability: Record<FaultKind, number>;
  /** The share of `error500`s drawn that made the payment. */
  error500Captured: number;
  /** How long a `timeout` holds the connection before closing it. */
  timeoutMs: number;
}

export const DECLINE_CODES = ['insufficient_funds', 'generic_decline', 'expired_card', 'do_not_honor'] as const;

export const NO_FAULTS: FaultConfig = {
  seed: '0',
  latencyMs: { min: 0, max: 0 },
  probability: { timeout: 0, transient503: 0, error500: 0, lost_answer: 0, decline: 0 },
  error500Captured: 0.5,
  timeoutMs: 30_000,
};

const NO_FAULT: Fault = { kind: 'none', latencyMs: 0, captured: false, declineCode: '' };

/**
 * Reads `ACQUIRER_FAULTS`: comma-separated `name=value` pairs, e.g.
 * `seed=42,latency_ms=0-50,timeout=0.1,lost_answer=0.1,error500=0.05,transient503=0.05,decline=0.05`.
 * Every name is optional; an empty text means no faults. Throws on anything it does not understand.
 */
export function parseFaults(text: string): FaultConfig {
  const config: FaultConfig = { ...NO_FAULTS, latencyMs: { ...NO_FAULTS.latencyMs }, probability: { ...NO_FAULTS.probability } };
  const seen = new Set<string>();
  for (const pair of text.split(',').map((part) => part.trim())) {
    if (pair === '') continue;
    const [name, value, ...rest] = pair.split('=').map((part) => part.trim());
    if (!name || value === undefined || value === '' || rest.length > 0) throw new Error(`"${pair}" is not name=value`);
    if (seen.has(name)) throw new Error(`${name} is given twice`);
    seen.add(name);
    if (name === 'seed') {
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(value)) throw new Error(`seed must be 1 to 64 letters, digits, _ or -, not "${value}"`);
      config.seed = value;
    } else if (name === 'latency_ms') {
      const range = /^(\d{1,7})(?:-(\d{1,7}))?$/.exec(value);
      const min = Number(range?.[1]);
      const max = range?.[2] === undefined ? min : Number(range[2]);
      if (!range || max < min) throw new Error(`latency_ms must be a number of milliseconds or a range min-max, not "${value}"`);
      config.latencyMs = { min, max };
    } else if (name === 'timeout_ms') {
      if (!/^\d{1,7}$/.test(value)) throw new Error(`timeout_ms must be a number of milliseconds, not "${value}"`);
      config.timeoutMs = Number(value);
    } else if (name === 'error500_captured') {
      config.error500Captured = share(name, value);
    } else if (isFaultKind(name)) {
      config.probability[name] = share(name, value);
    } else {
      throw new Error(`unknown name "${name}"; known: seed, latency_ms, timeout_ms, error500_captured, ${FAULT_KINDS.join(', ')}`);
    }
  }
  const total = FAULT_KINDS.reduce((sum, kind) => sum + config.probability[kind], 0);
  if (total > 1 + 1e-9) throw new Error(`the faults' probabilities add up to ${total}, more than 1`);
  return config;
}

/** The fault for attempt `attempt` (1, 2, ...) of the request under `key`. */
export function drawFault(config: FaultConfig, key: string, attempt: number): Fault {
  const [pick, latency, captured, decline] = uniforms(`${config.seed}\n${key}\n${attempt}`);
  const { min, max } = config.latencyMs;
  const fault: Fault = { ...NO_FAULT, latencyMs: min + Math.floor(latency * (max - min + 1)) };
  let below = 0;
  for (const kind of FAULT_KINDS) {
    below += config.probability[kind];
    if (pick < below) {
      fault.kind = kind;
      break;
    }
  }
  fault.captured = captured < config.error500Captured;
  fault.declineCode = DECLINE_CODES[Math.floor(decline * DECLINE_CODES.length)] ?? 'generic_decline';
  return fault;
}

const TEST_CARD_PREFIX = 'pm_test_';

/** Whether `paymentMethod` names a test card, whose fault is forced instead of drawn. */
export function isTestCard(paymentMethod: string): boolean {
  return paymentMethod.startsWith(TEST_CARD_PREFIX);
}

/**
 * The fault a test card forces on attempt `attempt`, like Stripe's test cards: every attempt,
 * or with the suffix `_once` the first attempt only (later ones succeed). Undefined for a test
 * card it does not know.
 *
 * `pm_test_ok`, `pm_test_decline_<code>`, `pm_test_timeout`, `pm_test_transient_503`, `pm_test_500`
 * (no payment made), `pm_test_500_captured`, `pm_test_lost_answer`, `pm_test_slow_<ms>`.
 */
export function testCardFault(paymentMethod: string, attempt: number): Fault | undefined {
  const once = paymentMethod.endsWith('_once');
  const name = paymentMethod.slice(TEST_CARD_PREFIX.length, once ? -'_once'.length : undefined);
  const fault = namedFault(name);
  if (!fault || !isTestCard(paymentMethod)) return undefined;
  return once && attempt > 1 ? NO_FAULT : fault;
}

function namedFault(name: string): Fault | undefined {
  const decline = /^decline_([a-z_]{1,40})$/.exec(name);
  if (decline?.[1]) return { ...NO_FAULT, kind: 'decline', declineCode: decline[1] };
  const slow = /^slow_(\d{1,7})$/.exec(name);
  if (slow) return { ...NO_FAULT, latencyMs: Number(slow[1]) };
  switch (name) {
    case 'ok':
      return NO_FAULT;
    case 'timeout':
      return { ...NO_FAULT, kind: 'timeout' };
    case 'transient_503':
      return { ...NO_FAULT, kind: 'transient503' };
    case '500':
      return { ...NO_FAULT, kind: 'error500', captured: false };
    case '500_captured':
      return { ...NO_FAULT, kind: 'error500', captured: true };
    case 'lost_answer':
      return { ...NO_FAULT, kind: 'lost_answer' };
    default:
      return undefined;
  }
}

function isFaultKind(name: string): name is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(name);
}

function share(name: string, value: string): number {
  const number = Number(value);
  if (!/^\d*\.?\d+$/.test(value) || number > 1) throw new Error(`${name} must be a number from 0 to 1, not "${value}"`);
  return number;
}

/** Four independent numbers in [0, 1) from a hash of `text`. */
function uniforms(text: string): [number, number, number, number] {
  const digest = createHash('sha256').update(text).digest();
  return [0, 1, 2, 3].map((index) => digest.readUInt32BE(index * 4) / 2 ** 32) as [number, number, number, number];
}
