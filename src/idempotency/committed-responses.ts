import { performance } from 'node:perf_hooks';
import { AnsweredKeys } from './answered-keys.js';
import type { RecordedResponse } from './idempotency.repository.js';

export interface CommittedResponse {
  fingerprint: string;
  response: RecordedResponse;
  /** For the Idempotency-Expires header only: never compared with this process's clock. */
  expiresAt: Date;
  /** How long the record is still kept, by the database's clock, when it was read or written. */
  secondsLeft: number;
  /** How old the record was then, by the database's clock. */
  ageSeconds: number;
}

/** What a replay from memory needs: the answer, and the duplicate's age now. */
export interface RememberedResponse {
  fingerprint: string;
  response: RecordedResponse;
  expiresAt: Date;
  ageSeconds: number;
}

/**
 * Forget an answer this long before the database would: what separates the moment the database
 * measured secondsLeft from the moment this process read it (its answer's travel, a busy event loop).
 */
const EXPIRY_MARGIN_MS = 1_000;

/**
 * The recorded answers this process has seen committed, most recently used first, bounded in
 * entries and bytes. A committed record never changes before it expires (only the purge deletes it,
 * once expired), so a replay can be answered from here with no database work, and a request of
 * another fingerprint refused. What is not here is asked of the database, which stays the truth:
 * only committed answers are ever put here, never a claim without a response.
 *
 * An answer is kept for the time the database said it has left, counted on this process's monotonic
 * clock from when it was read: the process's wall clock, which may run apart from PostgreSQL's,
 * never decides whether an answer is still good.
 *
 * Past the last `maxEntries` answers, only a trace is kept: that this process answered the key
 * (answered-keys.ts), so that its replay reads the record first instead of running the handler.
 */
export class CommittedResponses {
  private readonly entries = new Map<string, RememberedResponse & { deadline: number; recordedAt: number; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
    /** Milliseconds on a clock that only moves forward (tests pass their own). */
    private readonly monotonicNow: () => number = () => performance.now(),
    private readonly answered = new AnsweredKeys(),
  ) {}

  /** Whether this process has (probably) answered the key lately, whether or not it still holds the answer. */
  answeredBefore(merchantId: string, key: string): boolean {
    return this.answered.mayHave(merchantId, key);
  }

  get(merchantId: string, key: string): RememberedResponse | undefined {
    const id = entryId(merchantId, key);
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    const now = this.monotonicNow();
    if (entry.deadline <= now) {
      this.bytes -= entry.bytes;
      return undefined;
    }
    this.entries.set(id, entry); // most recently used last in the map's order
    return {
      fingerprint: entry.fingerprint,
      response: entry.response,
      expiresAt: entry.expiresAt,
      ageSeconds: (now - entry.recordedAt) / 1000,
    };
  }

  remember(merchantId: string, key: string, committed: CommittedResponse): void {
    this.answered.add(merchantId, key);
    if (this.maxEntries === 0) return;
    const now = this.monotonicNow();
    const deadline = now + committed.secondsLeft * 1000 - EXPIRY_MARGIN_MS;
    if (deadline <= now) return;
    const id = entryId(merchantId, key);
    const bytes = id.length + committed.fingerprint.length + committed.response.body.length + 200;
    if (bytes > this.maxBytes) return;
    const previous = this.entries.get(id);
    if (previous) {
      this.entries.delete(id);
      this.bytes -= previous.bytes;
    }
    const { fingerprint, response, expiresAt } = committed;
    this.entries.set(id, {
      fingerprint,
      response,
      expiresAt,
      ageSeconds: 0,
      deadline,
      recordedAt: now - committed.ageSeconds * 1000,
      bytes,
    });
    this.bytes += bytes;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.bytes <= this.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

function entryId(merchantId: string, key: string): string {
  return `${merchantId}\n${key}`;
}
