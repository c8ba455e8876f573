import {
  abSchedule,
  cell,
  figureRows,
  formatAbTable,
  keysOutsideWindow,
  middle,
  missingCounters,
  ratio,
  tpcbBeside,
  type Block,
  type PhaseFigures,
} from '../bench/ab-plan.js';
import { percentile, transactionLatenciesUs } from '../bench/database.js';

// The pure half of `npm run bench -- --against <ref>`: the order of its phases, the keys it replays
// outside the memory window, and the table it prints.
describe('bench A/B plan', () => {
  it('alternates the builds with a pgbench phase on each side of every build', () => {
    const steps = abSchedule(2).map((step) => (step.kind === 'pgbench' ? 'pgbench' : `${step.build}${step.alternation}`));
    expect(steps).toEqual(['pgbench', 'A1', 'pgbench', 'B1', 'pgbench', 'A2', 'pgbench', 'B2', 'pgbench']);
    expect(abSchedule(1)).toHaveLength(5);
  });

  it("reads each build's phases against the mean of the TPC-B phases beside them", () => {
    const steps = abSchedule(2);
    const tps = [1000, undefined, 2000, undefined, 3000, undefined, 1000, undefined, 1000];
    expect(tpcbBeside(steps, tps, 1)).toBe(1500);
    expect(tpcbBeside(steps, tps, 3)).toBe(2500);
    expect(tpcbBeside(steps, tps, 7)).toBe(1000);
    expect(() => tpcbBeside(steps, tps, 0)).toThrow('step 0 has no pgbench phase beside it');
  });

  it("takes every thread's keys but those in flight at the end, and the latest phase's last answers the process remembers", () => {
    const phases = [
      { prefix: 'bold', sentByThread: [5000, 4990] },
      { prefix: 'bnew', sentByThread: [3000, 1010] },
    ];
    // 16 connections over 2 threads: 8 in flight each; a window of 2 000 answers: 1 000 a thread.
    expect(keysOutsideWindow(phases, 2000, 16)).toEqual([
      { prefix: 'bold', thread: 1, count: 4992 },
      { prefix: 'bold', thread: 2, count: 4982 },
      { prefix: 'bnew', thread: 1, count: 1992 },
      { prefix: 'bnew', thread: 2, count: 2 },
    ]);
    expect(keysOutsideWindow([{ prefix: 'b', sentByThread: [900, 1000] }], 2000, 16)).toEqual([]);
  });

  it('finds the keys of a run that have no record, to be passed over', () => {
    const recorded = ['bx-2-1', 'bx-2-2', 'bx-2-4', 'bx-1-3', 'bx-2-9'];
    expect(missingCounters({ prefix: 'bx', thread: 2, count: 5 }, recorded)).toEqual([3, 5]);
    expect(missingCounters({ prefix: 'bx', thread: 2, count: 2 }, recorded)).toEqual([]);
  });

  it('gives the median (the lower middle of an even count) and the range, leaving out what is unknown', () => {
    expect(middle([3, 1, 2])).toBe(2);
    expect(middle([4, 1, 3, 2])).toBe(2);
    expect(middle([undefined, 7])).toBe(7);
    expect(middle([undefined])).toBeUndefined();
    expect(cell([2256, 2100, 2400], 0)).toBe('2256 (2100–2400)');
    expect(cell([0.7449, 0.7451], 2)).toBe('0.74 (0.74–0.75)');
    expect(cell([1.0, 1.001], 1)).toBe('1.0');
    expect(cell([undefined], 0)).toBe('?');
  });

  it('says B ÷ A with two decimals, and "?" when it cannot', () => {
    expect(ratio(2500, 2000)).toBe('1.25');
    expect(ratio(1, 3)).toBe('0.33');
    expect(ratio(5, 0)).toBe('?');
    expect(ratio(undefined, 5)).toBe('?');
  });

  it('prints a line per figure with both builds, B ÷ A and whether each meets its target', () => {
    const phase = (perSecond: number, p99Ms: number, serviceUs = 300): PhaseFigures => ({
      perSecond,
      p50Ms: 8,
      p99Ms,
      serviceUs,
      machineUs: 900,
      failed: 0,
    });
    const block = (charges: number, p99: number, tpcb: number): Block => ({
      charges: phase(charges, p99),
      recent: phase(6000, 3, 60),
      old: phase(3000, 10, 150),
      tpcb,
      tpcbP99Ms: 12.5,
    });
    const table = formatAbTable(
      figureRows([block(2000, 18, 2500), block(2200, 22, 2500)], [block(2400, 16, 2400), block(2500, 17, 2600)], { a: 150, b: 210 }),
    );
    const line = (figure: string) => table.split('\n').find((l) => l.startsWith(`| ${figure} `))!;
    expect(table.split('\n')[0]).toMatch(/^\| figure +\| A +\| B +\| B\/A +\| target +\|$/);
    expect(line('fresh-key charges/s')).toMatch(
      /\| 2000 \(2000–2200\) \| 2400 \(2400–2500\) \| 1\.20 +\| B\/A ≥ 1\.10 when A is ad8c3be +\|$/,
    );
    expect(line('fresh-key charges × TPC-B')).toMatch(/\| 0\.80 \(0\.80–0\.88\) \| 0\.96 \(0\.96–1\.00\) \| 1\.20 /);
    expect(line('fresh-key charges p99 ms')).toMatch(/\| ≤ 20: A met, B met/);
    expect(line('pgbench TPC-B p99 ms beside')).toMatch(/\| 12\.5 +\| 12\.5 +\| 1\.00 /);
    expect(line('replays outside the memory window × TPC-B')).toMatch(
      /\| 1\.20 +\| 1\.15 \(1\.15–1\.25\) \| 0\.96 +\| ≥ 2: A not met, B not met +\|$/,
    );
    expect(line('peak RSS of the service, MiB')).toMatch(/\| 150 +\| 210 +\| 1\.40 +\| ≤ 200: A met, B not met/);
    expect(line('failed answers (all phases)')).toMatch(/\| 0 +\| 0 +\| +\| ≤ 0: A met, B met/);
  });
});

describe("pgbench's transaction log", () => {
  it('gives each transaction’s latency, and the p99 by nearest rank', () => {
    const log = ['0 1 1500 0 1733580000 1', '1 1 250000 0 1733580000 2', '0 2 2500 0 1733580001 3', ''].join('\n');
    expect(transactionLatenciesUs(log)).toEqual([1500, 250000, 2500]);
    expect(percentile([5, 1, 4, 2, 3], 0.99)).toBe(5);
    expect(
      percentile(
        Array.from({ length: 100 }, (_, i) => i + 1),
        0.99,
      ),
    ).toBe(99);
    expect(percentile([], 0.99)).toBe(0);
  });
});
