/**
 * A token bucket per caller: `ratePerSecond` tokens a second, at most `ratePerSecond` saved up (a
 * one-second burst). Pure and clock-injected, so it is tested without waiting.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly maxCallers = 100_000,
  ) {}

  /** Takes a token for `caller`: 0 when allowed, else the seconds to wait before retrying. */
  take(caller: string, nowMs: number): number {
    const capacity = this.ratePerSecond;
    const bucket = this.buckets.get(caller) ?? { tokens: capacity, at: nowMs };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((nowMs - bucket.at) / 1000) * this.ratePerSecond);
    bucket.at = nowMs;
    if (!this.buckets.has(caller)) {
      if (this.buckets.size >= this.maxCallers) this.buckets.clear();
      this.buckets.set(caller, bucket);
    }
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.ratePerSecond));
  }
}
