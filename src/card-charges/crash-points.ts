/**
 * The boundaries of a card charge's phases where the chaos harness and the crash tests SIGKILL the
 * service (CARD_CHARGE_CRASH_AT): right after tx1 commits, right after tx2 commits, once the
 * request to the acquirer has been sent, once its answer is in (before tx3), right after tx3.
 */
export const CRASH_POINTS = ['after_tx1', 'after_tx2', 'in_call', 'after_answer', 'after_tx3'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** CARD_CHARGE_CRASH_AT and its draw: at which boundaries, with what chance each time one is passed. */
export interface CrashSettings {
  points: CrashPoint[];
  /** 1: the first passing kills. */
  probability: number;
  /** Seeds the draws, so a run of the harness replays. */
  seed: number;
}
