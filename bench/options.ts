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
  /** A single PostgreSQL server and a primary with a synchronous standby, alternated (bench/sync-standby.ts). */
  syncStandby: boolean;
}

/** Phase lengths of a full run and of --quick (an A/B run of 2 alternations in about three minutes). */
const FULL = { seconds: 10, warmup: 30, cold: 15, rounds: 3 };
const QUICK = { seconds: 5, warmup: 10, cold: 5, rounds: 1 };

/** The three kinds of run, and the words that name each in an error. */
type Run = 'single' | 'ab' | 'sync-standby';
const RUN_NAMES: Record<Run, string> = {
  single: 'a single-build run',
  ab: 'an A/B run (--against <ref>)',
  'sync-standby': 'a --sync-standby run',
};

/** Flags that only some kinds of run have; the others (--seconds, --warmup, --connections, --quick) every run has. */
const ONLY_FOR: Record<string, Run[]> = {
  rounds: ['single'],
  cold: ['single'],
  keys: ['single'],
  history: ['single'],
  profile: ['single'],
  with: ['ab'],
  window: ['ab'],
  'keep-build': ['ab'],
  alternations: ['ab', 'sync-standby'],
};

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
      'sync-standby': { type: 'boolean' },
    },
  });
  const against = values.against;
  for (const name of ['against', 'with'] as const) {
    const ref = values[name];
    if (ref !== undefined && !/^[\w./^~@{}-]+$/.test(ref)) throw new Error(`--${name} must be a git ref, got "${ref}"`);
  }
  if (values['sync-standby'] && against !== undefined)
    throw new Error(
      '--sync-standby cannot be combined with --against: one compares two builds on one server, the other one build on two servers (run them one after the other)',
    );
  const run: Run = values['sync-standby'] ? 'sync-standby' : against !== undefined ? 'ab' : 'single';
  const given = (name: string) => (values as Record<string, unknown>)[name] !== undefined;
  for (const [name, runs] of Object.entries(ONLY_FOR)) {
    if (given(name) && !runs.includes(run))
      throw new Error(
        `--${name} is only for ${runs.map((r) => RUN_NAMES[r]).join(' or ')}` +
          (run === 'single' ? '' : `, not with ${run === 'ab' ? '--against' : '--sync-standby'}`),
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
    syncStandby: values['sync-standby'] ?? false,
  };
}
