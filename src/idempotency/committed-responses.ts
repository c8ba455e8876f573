import type { RecordedResponse } from './idempotency.repository.js';

export interface CommittedResponse {
  fingerprint: string;
  response: RecordedResponse;
  /** When the record was written: what a duplicate's age is measured from. */
  createdAt: Date;
  expiresAt: Date;
}

/** Forget an answer this long before the database would: clocks of the two may differ a little. */
const EXPIRY_MARGIN_MS = 5_000;

/**
 * The recorded answers this process has seen committed, most recently used first, bounded in
 * entries and bytes. A committed record never changes before it expires (only the purge deletes it,
 * once expired), so a replay can be answered from here with no database work, and a request of
 * another fingerprint refused. What is not here is asked of the database, which stays the truth:
 * only committed answers are ever put here, never a claim without a response.
 */
export class CommittedResponses {
  private readonly entries = new Map<string, CommittedResponse & { bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxBytes: number,
  ) {}

  get(merchantId: string, key: string, now = Date.now()): CommittedResponse | undefined {
    const id = entryId(merchantId, key);
    const entry = this.entries.get(id);
    if (!entry) return undefined;
    this.entries.delete(id);
    if (entry.expiresAt.getTime() - EXPIRY_MARGIN_MS <= now) {
      this.bytes -= entry.bytes;
      return undefined;
    }
    this.entries.set(id, entry); // most recently used last in the map's order
    return entry;
  }

  remember(merchantId: string, key: string, committed: CommittedResponse): void {
    if (this.maxEntries === 0) return;
    const id = entryId(merchantId, key);
    const bytes = id.length + committed.fingerprint.length + committed.response.body.length + 200;
    if (bytes > this.maxBytes) return;
    const previous = this.entries.get(id);
    if (previous) {
      this.entries.delete(id);
      this.bytes -= previous.bytes;
    }
    this.entries.set(id, { ...committed, bytes });
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
