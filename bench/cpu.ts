import { readdir, readFile } from 'node:fs/promises';
import pg from 'pg';

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
  /** PostgreSQL's: its server processes' time (backends, WAL writer, checkpointer …), ms; undefined unless asked. */
  databaseMs?: number;
}

interface Snapshot {
  machineTicks: number;
  serviceTicks: number | undefined;
  databaseTicks: number | undefined;
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

/** A process's parent's id from /proc/<pid>/stat (field 4, counted after the command name like the others). */
export function parentPid(procPidStat: string): number {
  return Number(procPidStat.slice(procPidStat.lastIndexOf(')') + 2).split(' ')[1]);
}

/**
 * The ticks of every child of PostgreSQL's postmaster, which are its backends and background
 * workers. A backend that exits takes its ticks with it: the service's pool keeps its connections.
 */
async function childrenTicks(parent: number): Promise<number> {
  let ticks = 0;
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat !== undefined && parentPid(stat) === parent) ticks += processCpuTicks(stat);
  }
  return ticks;
}

async function snapshot(servicePid: number | undefined, postmasterPid: number | undefined): Promise<Snapshot> {
  const machineTicks = machineBusyTicks(await readFile('/proc/stat', 'utf8'));
  const processStat = servicePid === undefined ? undefined : await readFile(`/proc/${servicePid}/stat`, 'utf8').catch(() => undefined);
  return {
    machineTicks,
    serviceTicks: processStat === undefined ? undefined : processCpuTicks(processStat),
    databaseTicks: postmasterPid === undefined ? undefined : await childrenTicks(postmasterPid),
  };
}

const ticksToMs = (ticks: number) => (ticks * 1000) / TICKS_PER_SECOND;

/**
 * Runs `phase` and returns what it returned, with the CPU time spent meanwhile as `cpu`; with the
 * pid of a PostgreSQL postmaster on this machine, its server's time too.
 */
export async function measureCpu<T extends object>(
  servicePid: number | undefined,
  phase: () => Promise<T>,
  postmasterPid?: number,
): Promise<T & { cpu: CpuUse }> {
  const before = await snapshot(servicePid, postmasterPid);
  const value = await phase();
  const after = await snapshot(servicePid, postmasterPid);
  const serviceMs =
    before.serviceTicks === undefined || after.serviceTicks === undefined ? undefined : ticksToMs(after.serviceTicks - before.serviceTicks);
  const databaseMs =
    before.databaseTicks === undefined || after.databaseTicks === undefined
      ? undefined
      : ticksToMs(after.databaseTicks - before.databaseTicks);
  return {
    ...value,
    cpu: { machineMs: ticksToMs(after.machineTicks - before.machineTicks), serviceMs, ...(databaseMs === undefined ? {} : { databaseMs }) },
  };
}

/**
 * The postmaster of the PostgreSQL server at `url` when it runs on this machine (the parent of a
 * backend, read while that backend's connection is open), else undefined.
 */
export async function localPostmaster(url: string): Promise<number | undefined> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const stat = await readFile(`/proc/${rows[0]!.pid}/stat`, 'utf8').catch(() => undefined);
    return stat === undefined ? undefined : parentPid(stat);
  } finally {
    await client.end();
  }
}

/** Microseconds per operation, or undefined. */
export const microsecondsEach = (ms: number | undefined, operations: number): number | undefined =>
  ms === undefined || operations <= 0 ? undefined : (ms * 1000) / operations;
