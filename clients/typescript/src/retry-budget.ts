import type { CircuitBreakerPolicy, RetryBudgetPolicy } from './retry.js';

/**
 * The retry quota of one client instance, shared by all its calls (a token bucket, as the AWS SDKs'
 * standard retry mode keeps it). See RetryBudgetPolicy.
 */
export class RetryBudget {
  private tokens: number;

  constructor(private readonly policy: RetryBudgetPolicy) {
    this.tokens = policy.capacity;
  }

  get available(): number {
    return this.tokens;
  }

  /** Takes the cost of one retry; false (and nothing taken) when the bucket holds too little. */
  take(afterTimeout: boolean): number | undefined {
    const cost = afterTimeout ? this.policy.timeoutCost : this.policy.retryCost;
    if (this.tokens < cost) return undefined;
    this.tokens -= cost;
    return cost;
  }

  /** A decided answer: a retry gives back what it took, a first attempt adds the small refund. */
  succeeded(retryCost: number | undefined): void {
    this.tokens = Math.min(this.policy.capacity, this.tokens + (retryCost ?? this.policy.successRefund));
  }
}

/**
 * Closed → open after `failureThreshold` undecided answers in a row; open → one probe after
 * `coolDownMs`; the probe's answer closes it (decided) or opens it again (undecided).
 */
export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | undefined;
  private probing = false;

  constructor(private readonly policy: CircuitBreakerPolicy) {}

  get state(): 'closed' | 'open' | 'half-open' {
    if (this.openedAt === undefined) return 'closed';
    return this.probing ? 'half-open' : 'open';
  }

  /** undefined when an attempt may be sent now (perhaps as the probe); else when the next probe is allowed. */
  admit(now: number): number | undefined {
    if (this.openedAt === undefined) return undefined;
    const retryAt = this.openedAt + this.policy.coolDownMs;
    if (this.probing || now < retryAt) return this.probing ? now + this.policy.coolDownMs : retryAt;
    this.probing = true;
    return undefined;
  }

  /** The service decided (a 2xx or a decided problem): it is reachable and working. */
  decided(): void {
    this.failures = 0;
    this.openedAt = undefined;
    this.probing = false;
  }

  /** An undecided answer (network error, timeout, 5xx, 429, an answer not the service's). */
  undecided(now: number): void {
    this.failures++;
    if (this.probing || this.failures >= this.policy.failureThreshold) this.openedAt = now;
    this.probing = false;
  }

  /** An attempt that ended without an answer about the service (the caller aborted): a probe slot is freed. */
  abandoned(): void {
    this.probing = false;
  }
}
