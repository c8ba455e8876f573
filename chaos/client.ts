import { sleep } from './cluster.js';
import type { Random } from './random.js';

/** A parsed JSON answer: an object (problem or resource), or whatever else came back. */
export type Json = { code?: string; id?: string; [field: string]: unknown };

export interface Answer {
  status: number;
  text: string;
  body: Json | undefined;
  replayed: boolean;
}

/**
 * A body sent exactly as written: JSON that JSON.stringify would never produce (`1.0`, duplicate
 * or `__proto__` keys, escapes chosen by hand), for the fuzzer's well-formed edge values.
 */
export class RawJson {
  constructor(readonly text: string) {}
}

/** One logical request: everything sent for one Idempotency-Key, and the definite answer it got. */
export interface Exchange {
  key: string;
  method: string;
  path: string;
  /** What was sent: a value (sent as JSON.stringify writes it) or a RawJson. */
  body: unknown;
  attempts: number;
  final: Answer | undefined;
}

/** The body as the service parsed it (what its request fingerprint is made of). */
export function parsedBody(body: unknown): unknown {
  if (body === undefined) return undefined;
  return JSON.parse(bodyText(body)) as unknown;
}

function bodyText(body: unknown): string {
  return body instanceof RawJson ? body.text : JSON.stringify(body);
}

/** The problem code of an error answer (RFC 9457 body), if any. */
function problemCode(answer: Answer | undefined): string | undefined {
  return typeof answer?.body?.code === 'string' ? answer.body.code : undefined;
}

// The business outcomes the service records against a key and replays (README, "How idempotency
// works"); validation failures, 409 in progress, 412/428, 422 key reused and 5xx are not recorded.
// (A 404 for an unknown route is not recorded either; the harness only sends to real routes.)
const RECORDED_PROBLEMS = new Set(['insufficient_funds', 'currency_mismatch', 'invalid_state', 'not_found', 'card_declined']);

/** Whether the service recorded this answer against its key (so a repeat must replay it). A card charge's 202 pending is not. */
export function isRecorded(answer: Answer | undefined): boolean {
  if (!answer) return false;
  return (answer.status < 400 && answer.status !== 202) || RECORDED_PROBLEMS.has(problemCode(answer) ?? '');
}

/** 422 idempotency_key_reused: the key belongs to another request. */
export function isKeyReused(answer: Answer | undefined): boolean {
  return answer?.status === 422 && problemCode(answer) === 'idempotency_key_reused';
}

/** One item of a batch answer (POST /v1/charges/batch): its status and the charge it made. */
export interface BatchItem {
  index: number;
  status: number;
  charge: Json | undefined;
}

/** The items of a 200 batch answer; none for any other answer. */
export function batchItems(answer: Answer | undefined): BatchItem[] {
  const results = answer?.status === 200 ? answer.body?.results : undefined;
  if (!Array.isArray(results)) return [];
  return results.map((item: unknown) => {
    const fields = (item ?? {}) as { index?: unknown; status?: unknown; charge?: unknown };
    return {
      index: Number(fields.index),
      status: Number(fields.status),
      charge: fields.charge !== null && typeof fields.charge === 'object' ? (fields.charge as Json) : undefined,
    };
  });
}

/** What every scenario's clients saw, for the checks afterwards. */
export class History {
  readonly exchanges: Exchange[] = [];
  readonly violations: string[] = [];
  requests = 0;
  /** Answers 503 were allowed only inside a database fault window. */
  databaseFault = false;

  record(exchange: Exchange): void {
    this.exchanges.push(exchange);
  }
}

// 202: a card charge still pending at its acquirer (not recorded; the POST is repeated).
const RETRIED_STATUSES = new Set([202, 409, 429, 503]);
const GIVE_UP_AFTER_MS = 90_000;

/**
 * A client that keeps a history and retries any request without a definite answer (network
 * error, timeout, 202 pending, 409 in progress, 429, 503) with the same key and body until it gets one.
 */
export class ChaosClient {
  constructor(
    private readonly history: History,
    private readonly apiKey: string,
    private readonly baseUrls: () => string[],
    /** The scenario's seeded source: new keys and the retry jitter come from it. */
    private readonly random: Random,
  ) {}

  /** Sends to every base URL at once on the first attempt when `toAll` (two instances, one key). */
  async send(method: string, path: string, body: unknown, key: string = this.random.uuid(), toAll = false): Promise<Exchange> {
    const exchange: Exchange = { key, method, path, body, attempts: 0, final: undefined };
    const started = Date.now();
    const attempt = async (baseUrl: string): Promise<Answer | undefined> => {
      exchange.attempts++;
      const answer = await this.once(baseUrl, method, path, body, key);
      return answer && this.isDefinite(answer) ? answer : undefined;
    };
    if (toAll) {
      const answers = (await Promise.all(this.baseUrls().map(attempt))).filter((answer) => answer !== undefined);
      if (new Set(answers.map((answer) => `${answer.status} ${answer.text}`)).size > 1) {
        this.history.violations.push(`${method} ${path} (key ${key}) got different answers from the instances`);
      }
      exchange.final = answers.find((answer) => !answer.replayed) ?? answers[0];
    }
    while (!exchange.final) {
      if (Date.now() - started > GIVE_UP_AFTER_MS) {
        this.history.violations.push(`no definite answer for ${method} ${path} (key ${key}) after ${exchange.attempts} attempts`);
        break;
      }
      const urls = this.baseUrls();
      exchange.final = await attempt(urls[exchange.attempts % urls.length]!);
      if (!exchange.final) await sleep(this.random.int(50, 200));
    }
    this.history.record(exchange);
    return exchange;
  }

  /** One HTTP request; undefined for no answer at all (refused, reset, timed out). */
  async once(baseUrl: string, method: string, path: string, body: unknown, key: string | undefined): Promise<Answer | undefined> {
    this.history.requests++;
    const headers: Record<string, string> = { authorization: `Bearer ${this.apiKey}` };
    if (key !== undefined) headers['idempotency-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      const response = await fetch(baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : bodyText(body),
        signal: AbortSignal.timeout(20_000),
      });
      const text = await response.text();
      const answer = {
        status: response.status,
        text,
        body: text ? safeJson(text) : undefined,
        replayed: response.headers.get('idempotent-replayed') === 'true',
      };
      this.inspect(method, path, body, answer, response.headers);
      return answer;
    } catch {
      return undefined;
    }
  }

  private isDefinite(answer: Answer): boolean {
    if (!RETRIED_STATUSES.has(answer.status)) return true;
    // A 409 invalid_state is a business answer; only "in progress" is retried.
    return answer.status === 409 && answer.body?.code !== 'idempotency_request_in_progress';
  }

  /** Every error is problem+json; the only 5xx allowed are 503 unavailable during a database fault, and 503 acquirer_unavailable. */
  private inspect(method: string, path: string, body: unknown, answer: Answer, headers: Headers): void {
    if (answer.status >= 400 && !String(headers.get('content-type')).startsWith('application/problem+json')) {
      this.history.violations.push(`${method} ${path}: ${answer.status} is not problem+json`);
    }
    if (answer.status === 503 && answer.body?.code === 'unavailable' && headers.get('retry-after') && this.history.databaseFault) return;
    // The acquirer's circuit is open: nothing was sent, the key stays at started (docs/API.md, Card charges).
    if (answer.status === 503 && answer.body?.code === 'acquirer_unavailable' && headers.get('retry-after')) return;
    if (answer.status >= 500) {
      const sent = body === undefined ? '' : ` to ${bodyText(body).slice(0, 200)}`;
      this.history.violations.push(`${method} ${path}: unexpected ${answer.status}${sent}: ${answer.text.slice(0, 200)}`);
    }
  }
}

function safeJson(text: string): Json | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' ? (parsed as Json) : undefined;
  } catch {
    return undefined;
  }
}
