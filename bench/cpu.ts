import { readFile } from 'node:fs/promises';

// What a phase cost in CPU, read from Linux's /proc. Rates move with how fast this machine happens
// to be (on a shared virtual machine, by a fifth within an hour); CPU time per request moves less,
// and says where a ratio comes from: a charge that costs more CPU than a TPC-B transaction cannot
// keep up with pgbench on a machine whose cores both take.

/** Clock ticks per second of /proc's counters (USER_HZ: 100 on every Linux build in use). */
const TICKS_PER_SECOND = 100;

export interface CpuUse {
  /** Busy time of every core of the machine (user, nice, system, irq, softirq, steal), ms. */
  machineMs: number;
  /** The service process's own time (user and system), ms; undefined without a process to read. */
  serviceMs: number | undefined;
}

interface Snapshot {
  machineTicks: number;
  serviceTicks: number | undefined;
}

/** Busy ticks of all cores from /proc/stat's first line (`cpu  user nice system idle iowait irq softirq steal …`). */
export function machineBusyTicks(procStat: string): number {
  const [user, nice, system, , , irq, softirq, steal] = procStat.split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return [user, nice, system, irq, softirq, steal].reduce((sum: number, value) => sum + (value ?? 0), 0);
}

/**
 * A process's user and system ticks from /proc/<pid>/stat. The command name (field 2) is in
 * parentheses and may hold spaces and parentheses itself, so fields are counted from the last ')':
 * state is field 3, utime and stime are fields 14 and 15.
 */
export function processCpuTicks(procPidStat: string): number {
  const fields = procPidStat.slice(procPidStat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

async function snapshot(servicePid: number | undefined): Promise<Snapshot> {
  const machineTicks = machineBusyTicks(await readFile('/proc/stat', 'utf8'));
  const processStat = servicePid === undefined ? undefined : await readFile(`/proc/${servicePid}/stat`, 'utf8').catch(() => undefined);
  return { machineTicks, serviceTicks: processStat === undefined ? undefined : processCpuTicks(processStat) };
}

const ticksToMs = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;

/** Runs `phase` and returns what it returned, with the CPU time spent meanwhile as `cpu`. */
export async function measureCpu<T extends object>(servicePid: number | undefined, phase: () => Promise<T>): Promise<T & { cpu: CpuUse }> {
  const before = await snapshot(servicePid);
  const value = await phase();
  const after = await snapshot(servicePid);
  const serviceMs =
    before.serviceTicks === undefined || after.serviceTicks === undefined ? undefined : ticksToMs(after.serviceTicks - before.serviceTicks);
  return { ...value, cpu: { machineMs: ticksToMs(after.machineTicks - before.machineTicks), serviceMs } };
}

/** Microseconds per operation, or undefined. */
export const microsecondsEach = (ms: number | undefined, operations: number): number | undefined =>
  ms === undefined || operations <= 0 ? undefined : (ms * 1000) / operations;
