/** What the guard knows of a valid key. */
export interface KnownKey {
  merchantId: string;
  keyId: string;
  /** Null: an unrestricted secret key. */
  scopes: string[] | null;
}

export type Lookup = { known: KnownKey } | { unknown: true };

/**
 * The guard's memory of keys it has looked up, each for at most `ttlMs` (and never past the key's
 * own expiry): a key revoked or expired on another instance stops working here within `ttlMs`,
 * the bound the contract states. Unknown keys are remembered too (a negative cache), so a flood of
 * bad keys costs the database one lookup per key per `ttlMs`, not one per request.
 *
 * Deadlines are on this process's monotonic clock; a key's expiry comes from the database as a
 * duration (expires_at - now() there), so a clock set apart on this host cannot stretch it.
 */
export class KnownKeys {
  private readonly entries = new Map<string, { lookup: Lookup; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get(hash: string): Lookup | undefined {
    const entry = this.entries.get(hash);
    if (!entry) return undefined;
    if (entry.until <= this.now()) {
      this.entries.delete(hash);
      return undefined;
    }
    return entry.lookup;
  }

  /** A valid key, for ttlMs or until it expires (`expiresInMs`, null: never), whichever is first. */
  remember(hash: string, key: KnownKey, expiresInMs: number | null): void {
    this.put(hash, { known: key }, Math.min(this.ttlMs, expiresInMs ?? Infinity));
  }

  rememberUnknown(hash: string): void {
    this.put(hash, { unknown: true }, this.ttlMs);
  }

  /** A key this instance just revoked or expired: refused here at once. */
  forget(hash: string): void {
    this.entries.delete(hash);
  }

  get size(): number {
    return this.entries.size;
  }

  private put(hash: string, lookup: Lookup, forMs: number): void {
    if (forMs <= 0) return;
    this.entries.delete(hash);
    // Oldest first in the map's order: drop from the front when full.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size < this.maxEntries) break;
      this.entries.delete(oldest);
    }
    this.entries.set(hash, { lookup, until: this.now() + forMs });
  }
}
