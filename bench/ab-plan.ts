// The pure half of an A/B run (bench/ab.ts): the order of its phases, the keys its replays outside
// the memory window take, and the table it ends with.

export type Build = 'A' | 'B';

/** One step of an A/B run: pgbench's TPC-B, or one build's phases (charges, then replays). */
export type Step = { kind: 'pgbench' } | { kind: 'build'; build: Build; alternation: number };

/**
 * pgbench, A, pgbench, B, pgbench, A, pgbench, B, pgbench …: every build's phases have a TPC-B
 * phase on each side, so each figure is also read against the server's speed at that moment.
 */
export function abSchedule(alternations: number): Step[] {
  const steps: Step[] = [{ kind: 'pgbench' }];
  for (let alternation = 1; alternation <= alternations; alternation++) {
    for (const build of ['A', 'B'] as const) steps.push({ kind: 'build', build, alternation }, { kind: 'pgbench' });
  }
  return steps;
}

/** TPC-B beside a build's step: the mean of the pgbench phases just before and just after it. */
export function tpcbBeside(steps: Step[], tps: (number | undefined)[], index: number): number {
  const beside = [index - 1, index + 1].map((i) => (steps[i]?.kind === 'pgbench' ? tps[i] : undefined)).filter((t) => t !== undefined);
  if (beside.length === 0) throw new Error(`step ${index} has no pgbench phase beside it`);
  return beside.reduce((sum, t) => sum + t, 0) / beside.length;
}

/** The keys a charges phase made in one of its wrk threads: `<prefix>-<thread>-<1 … count>`. */
export interface KeyRun {
  prefix: string;
  thread: number;
  count: number;
  /** Counters in 1 … count that have no record (a request the client gave up on when wrk stopped). */
  missing?: number[];
}

/** The counters in 1 … run.count whose key is not among `recorded` (the run's keys that have a record). */
export function missingCounters(run: KeyRun, recorded: Iterable<string>): number[] {
  const have = new Set(recorded);
  const missing: number[] = [];
  for (let n = 1; n <= run.count; n++) if (!have.has(`${run.prefix}-${run.thread}-${n}`)) missing.push(n);
  return missing;
}

/**
 * The keys of a build's charge phases so far that its process no longer remembers: every key each
 * thread made, less the last requests of each thread (in flight when wrk stopped, perhaps never
 * answered) and, in the latest phase, the last `window` answers (still in the process's memory).
 */
export function keysOutsideWindow(phases: { prefix: string; sentByThread: number[] }[], window: number, connections: number): KeyRun[] {
  return phases.flatMap(({ prefix, sentByThread }, index) => {
    const threads = sentByThread.length;
    const inFlight = Math.ceil(connections / threads);
    const remembered = index === phases.length - 1 ? Math.ceil(window / threads) : 0;
    return sentByThread.map((sent, i) => ({ prefix, thread: i + 1, count: sent - inFlight - remembered })).filter((run) => run.count > 0);
  });
}

/** What one load phase of one build measured. */
export interface PhaseFigures {
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The service process's CPU per request, µs. */
  serviceUs: number | undefined;
  /** The whole machine's busy CPU per request, µs (other programs on the machine included). */
  machineUs: number | undefined;
  /** PostgreSQL's server processes' CPU per request, µs, when it runs on this machine. */
  databaseUs?: number;
  /** Answers that were not 2xx, and socket errors. */
  failed: number;
}

/** One build's phases in one alternation, and the TPC-B rate beside them. */
export interface Block {
  charges: PhaseFigures;
  recent: PhaseFigures;
  old: PhaseFigures;
  tpcb: number;
  /** pgbench's own p99 latency beside it, ms. */
  tpcbP99Ms: number;
}

export interface Target {
  op: '≥' | '≤';
  value: number;
}

/** One line of the table: a figure of each build, one value per alternation. */
export interface FigureRow {
  figure: string;
  a: (number | undefined)[];
  b: (number | undefined)[];
  digits: number;
  /** What each build should reach on its own. */
  target?: Target;
  /** What B ÷ A should reach, said in words (it depends on which build A is). */
  ratioTarget?: string;
  /** A count that should be zero: no B ÷ A. */
  noRatio?: boolean;
}

export function figureRows(a: Block[], b: Block[], peakRss: { a: number | undefined; b: number | undefined }): FigureRow[] {
  const row = (figure: string, pick: (block: Block) => number | undefined, digits: number, more: Partial<FigureRow> = {}): FigureRow => ({
    figure,
    a: a.map(pick),
    b: b.map(pick),
    digits,
    ...more,
  });
  return [
    row('pgbench TPC-B beside, tps', (x) => x.tpcb, 0),
    row('pgbench TPC-B p99 ms beside', (x) => x.tpcbP99Ms, 1),
    row('fresh-key charges/s', (x) => x.charges.perSecond, 0, { ratioTarget: '≥ 1.10 when A is ad8c3be' }),
    row('fresh-key charges × TPC-B', (x) => x.charges.perSecond / x.tpcb, 2),
    row('fresh-key charges p50 ms', (x) => x.charges.p50Ms, 1),
    row('fresh-key charges p99 ms', (x) => x.charges.p99Ms, 1, { target: { op: '≤', value: 20 } }),
    row('service CPU µs per charge', (x) => x.charges.serviceUs, 0),
    row('PostgreSQL CPU µs per charge', (x) => x.charges.databaseUs, 0),
    row('machine CPU µs per charge', (x) => x.charges.machineUs, 0),
    row('replays of recent keys/s (in memory)', (x) => x.recent.perSecond, 0),
    row('replays of recent keys × TPC-B', (x) => x.recent.perSecond / x.tpcb, 2, { target: { op: '≥', value: 2 } }),
    row('replays of recent keys p99 ms', (x) => x.recent.p99Ms, 1),
    row('replays outside the memory window/s', (x) => x.old.perSecond, 0),
    row('replays outside the memory window × TPC-B', (x) => x.old.perSecond / x.tpcb, 2, { target: { op: '≥', value: 2 } }),
    row('replays outside the memory window p99 ms', (x) => x.old.p99Ms, 1),
    row('service CPU µs per replay outside the window', (x) => x.old.serviceUs, 0),
    row('PostgreSQL CPU µs per replay outside the window', (x) => x.old.databaseUs, 0),
    row('failed answers (all phases)', (x) => x.charges.failed + x.recent.failed + x.old.failed, 0, {
      noRatio: true,
      target: { op: '≤', value: 0 },
    }),
    { figure: 'peak RSS of the service, MiB', a: [peakRss.a], b: [peakRss.b], digits: 0, target: { op: '≤', value: 200 } },
  ];
}

const known = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined && Number.isFinite(v));

/** The median of the values (the lower middle of an even count), or undefined when none is known. */
export function middle(values: (number | undefined)[]): number | undefined {
  const sorted = known(values).sort((x, y) => x - y);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
}

/** The median, with the range over the alternations when they differ: "2256 (2100–2400)". */
export function cell(values: (number | undefined)[], digits: number): string {
  const m = middle(values);
  if (m === undefined) return '?';
  const all = known(values);
  const low = Math.min(...all);
  const high = Math.max(...all);
  const text = m.toFixed(digits);
  return low.toFixed(digits) === high.toFixed(digits) ? text : `${text} (${low.toFixed(digits)}–${high.toFixed(digits)})`;
}

/** B ÷ A of the medians, two decimals; "?" when either is unknown or A is zero. */
export function ratio(b: number | undefined, a: number | undefined): string {
  return a === undefined || b === undefined || a === 0 ? '?' : (b / a).toFixed(2);
}

function meets(value: number | undefined, target: Target): string {
  if (value === undefined) return '?';
  return (target.op === '≥' ? value >= target.value : value <= target.value) ? 'met' : 'not met';
}

export function targetCell(row: FigureRow): string {
  if (row.target) {
    const { op, value } = row.target;
    return `${op} ${value}: A ${meets(middle(row.a), row.target)}, B ${meets(middle(row.b), row.target)}`;
  }
  return row.ratioTarget ? `B/A ${row.ratioTarget}` : '';
}

/**
 * The run's table: a line per figure, medians over the alternations with their range, and B ÷ A;
 * `names` head the columns (the sync-standby run's A and B are servers, not builds). The target
 * column is left out when no row has one.
 */
export function formatAbTable(rows: FigureRow[], names = { a: 'A', b: 'B', ratio: 'B/A' }): string {
  const targets = rows.some((row) => row.target ?? row.ratioTarget);
  const header = ['figure', names.a, names.b, names.ratio, ...(targets ? ['target'] : [])];
  const cells = rows.map((row) => [
    row.figure,
    cell(row.a, row.digits),
    cell(row.b, row.digits),
    row.noRatio ? '' : ratio(middle(row.b), middle(row.a)),
    ...(targets ? [targetCell(row)] : []),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((line) => line[column]!.length)));
  const line = (values: string[]) => `| ${values.map((value, column) => value.padEnd(widths[column]!)).join(' | ')} |`;
  return [line(header), `| ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...cells.map(line)].join('\n');
}
