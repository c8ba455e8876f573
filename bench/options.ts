import { parseArgs } from 'node:util';

// The bench's command line, parsed apart from the run so that its rules have unit tests.

export interface Options {
  seconds: number;
  rounds: number;
  warmup: number;
  cold: number;
  connections: number;
  keys: number;
  history: number;
  profile: boolean;
  /** A git ref: run that build (A) and this checkout (B) alternated (bench/ab.ts). */
  against: string | undefined;
  /** With --against: B is this git ref's build instead of this checkout's. */
  with: string | undefined;
  /** With --against: how many times each build gets its phases. */
  alternations: number;
  /** With --against: how many answers a process keeps in memory; older keys are replayed beyond it. */
  window: number;
  /** With --against: leave the other build's worktree in .data/bench-ab/ for the next run. */
  keepBuild: boolean;
}

/** Phase lengths of a full run and of --quick (an A/B run of 2 alternations in about three minutes). */
const FULL = { seconds: 10, warmup: 30, cold: 15, rounds: 3 };
const QUICK = { seconds: 5, warmup: 10, cold: 5, rounds: 1 };

/** Options only a single-build run has, and only an A/B run has. */
const SINGLE_ONLY = ['rounds', 'cold', 'keys', 'history', 'profile'] as const;
const AB_ONLY = ['with', 'alternations', 'window', 'keep-build'] as const;

export function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      seconds: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      cold: { type: 'string' },
      connections: { type: 'string' },
      keys: { type: 'string' },
      history: { type: 'string' },
      profile: { type: 'boolean' },
      quick: { type: 'boolean' },
      against: { type: 'string' },
      with: { type: 'string' },
      alternations: { type: 'string' },
      window: { type: 'string' },
      'keep-build': { type: 'boolean' },
    },
  });
  const against = values.against;
  for (const name of ['against', 'with'] as const) {
    const ref = values[name];
    if (ref !== undefined && !/^[\w./^~@{}-]+$/.test(ref)) throw new Error(`--${name} must be a git ref, got "${ref}"`);
  }
  const given = (name: string) => (values as Record<string, unknown>)[name] !== undefined;
  for (const name of against === undefined ? AB_ONLY : SINGLE_ONLY) {
    if (given(name))
      throw new Error(
        `--${name} is only for ${against === undefined ? 'an A/B run (--against <ref>)' : 'a single-build run, not with --against'}`,
      );
  }
  const phases = values.quick ? QUICK : FULL;
  const whole = (name: string, raw: string | undefined, fallback: number, min: number) => {
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min) throw new Error(`--${name} must be a whole number of at least ${min}, got "${raw}"`);
    return Number(raw);
  };
  return {
    seconds: whole('seconds', values.seconds, phases.seconds, 1),
    rounds: whole('rounds', values.rounds, phases.rounds, 1),
    warmup: whole('warmup', values.warmup, phases.warmup, 0),
    cold: whole('cold', values.cold, phases.cold, 1),
    connections: whole('connections', values.connections, 16, 1),
    keys: whole('keys', values.keys, 0, 0),
    history: whole('history', values.history, 0, 0),
    profile: values.profile ?? false,
    against,
    with: values.with,
    alternations: whole('alternations', values.alternations, 2, 1),
    window: whole('window', values.window, 2_000, 0),
    keepBuild: values['keep-build'] ?? false,
  };
}
