/** How long after the fault a switch must have failed a deposit to count as seen. */
export const SWITCH_SEEN_WITHIN_MS = 15_000;

/** One probe deposit: when it was sent and answered (ms since the epoch), and its status (0: no answer). */
export interface ProbeAnswer {
  sentAt: number;
  answeredAt: number;
  status: number;
}

export interface FailoverTime {
  /** From the first 503 to the first 2xx after it; 0 when no deposit failed (see FailoverClock). */
  failoverMs: number;
  /** The slowest deposit sent after the fault. */
  stallMs: number;
}

/**
 * Scenario 18's failover time for one fault, read from the probe's deposits as they are answered:
 * the time from the first 503 to the first 2xx after it. When no deposit failed within
 * SWITCH_SEEN_WITHIN_MS of the fault, it is 0 (the switch fell between two probes, or a restart in
 * place was over before a request gave up in PgBouncer's queue), and stallMs says what the clients
 * waited instead. Not at the first 2xx after the fault: a SIGKILLed postmaster's server processes go
 * on answering for a moment.
 */
export class FailoverClock {
  private first503: number | undefined;
  private stallMs = 0;

  /** `faultAt`: when the fault took effect, undefined before. */
  constructor(private readonly faultAt: () => number | undefined) {}

  /** Reads one deposit's answer: the failover time once it is known, else undefined (probe on). */
  read(answer: ProbeAnswer): FailoverTime | undefined {
    const fault = this.faultAt();
    if (fault !== undefined && answer.sentAt >= fault) this.stallMs = Math.max(this.stallMs, answer.answeredAt - answer.sentAt);
    if (answer.status === 503 && this.first503 === undefined) this.first503 = answer.answeredAt;
    const ok = answer.status >= 200 && answer.status < 300;
    if (ok && this.first503 !== undefined) return { failoverMs: answer.answeredAt - this.first503, stallMs: this.stallMs };
    if (this.first503 === undefined && fault !== undefined && answer.answeredAt - fault > SWITCH_SEEN_WITHIN_MS) {
      return { failoverMs: 0, stallMs: this.stallMs };
    }
    return undefined;
  }
}
