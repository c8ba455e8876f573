import { machineBusyTicks, microsecondsEach, parentPid, processCpuTicks } from '../bench/cpu.js';

// The bench's CPU columns read Linux's /proc; these are its formats, as the kernel writes them.
describe('bench CPU accounting', () => {
  it('counts user, nice, system, irq, softirq and steal as busy, not idle or iowait', () => {
    const stat = 'cpu  100 2 30 5000 70 4 5 6 0 0\ncpu0 50 1 15 2500 35 2 2 3 0 0\nintr 1 2 3\n';
    expect(machineBusyTicks(stat)).toBe(100 + 2 + 30 + 4 + 5 + 6);
  });

  it("reads a process's utime and stime after its command name, even one with spaces and parentheses", () => {
    const stat = '4242 (node (main) x) S 1 4242 4242 0 -1 4194560 300 0 0 0 1234 567 0 0 20 0 11 0 100 0 0\n';
    expect(processCpuTicks(stat)).toBe(1234 + 567);
  });

  it('gives microseconds per operation, and nothing when there is nothing to divide', () => {
    expect(microsecondsEach(1500, 1000)).toBe(1500);
    expect(microsecondsEach(undefined, 1000)).toBeUndefined();
    expect(microsecondsEach(10, 0)).toBeUndefined();
  });
});

describe('bench CPU of PostgreSQL', () => {
  it("reads a process's parent after its command name, to find a postmaster's children", () => {
    expect(parentPid('4242 (postgres: bench (x) idle) S 977 4242 4242 0 -1 4194560 300 0 0 0 1234 567 0 0 20 0 1 0 100 0 0\n')).toBe(977);
  });
});
