import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { answersByStatus } from './statuses.js';

// What a run of the bench, of one build or two, needs around its phases.

const execFileAsync = promisify(execFile);

export const log = (line: string) => console.error(`[bench] ${line}`);

export const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** wrk and pgbench from Debian's packages: installed when missing (as root), or a clear refusal. */
export async function requireTools(): Promise<void> {
  const missing = [];
  for (const [tool, pkg] of [
    ['wrk', 'wrk'],
    ['pgbench', 'postgresql'],
  ] as const) {
    if (!(await onPath(tool))) missing.push(pkg);
  }
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) throw new Error(`the bench needs ${missing.join(' and ')}: apt-get install ${missing.join(' ')}`);
  log(`installing ${missing.join(', ')} from Debian's packages`);
  await execFileAsync('apt-get', ['update']);
  await execFileAsync('apt-get', ['install', '-y', ...missing], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
}

async function onPath(tool: string): Promise<boolean> {
  return execFileAsync('sh', ['-c', `command -v ${tool}`]).then(
    () => true,
    () => false,
  );
}

/** The service's /metrics text. */
export async function serviceMetrics(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`GET /metrics answered ${response.status}`);
  return response.text();
}

/** The service's answers so far by status (its /metrics), to say what a phase's non-2xx were. */
export async function serviceAnswers(url: string): Promise<Map<number, number>> {
  return answersByStatus(await serviceMetrics(url));
}

/** The most resident memory the process has had (VmHWM), in MiB. */
export async function peakRssMiB(pid: number | undefined): Promise<number | undefined> {
  const status = pid ? await readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined) : undefined;
  const kib = status?.match(/^VmHWM:\s+(\d+) kB$/m)?.[1];
  return kib === undefined ? undefined : Number(kib) / 1024;
}
