import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * A program from Debian's packages: on PATH, or in the sbin folders that a non-root PATH lacks
 * (pgbouncer and haproxy install to /usr/sbin).
 */
export function findBinary(name: string): string | undefined {
  const folders = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const folder of folders.filter(Boolean)) {
    const candidate = path.join(folder, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** The fleet's parts (haproxy, pgbouncer) that are not installed; `.ci/run` installs them. */
export function missingFleetBinaries(): string[] {
  return ['haproxy', 'pgbouncer'].filter((name) => findBinary(name) === undefined);
}

/** What to say when they are missing: on CI a failure, elsewhere a notice that the fleet did not run. */
export function missingBinariesMessage(missing: string[]): string {
  return (
    `${missing.join(' and ')} not found (apt-get install -y haproxy pgbouncer): the fleet ` +
    (process.env.CI ? 'cannot run, and CI needs it.' : 'was not run.')
  );
}

/**
 * The unprivileged user that programs refusing root (PostgreSQL, PgBouncer) run as, when this
 * process is root: `postgres`, created when missing.
 */
export function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    return {
      uid: Number(execFileSync('id', ['-u', 'postgres']).toString()),
      gid: Number(execFileSync('id', ['-g', 'postgres']).toString()),
    };
  } catch {
    execFileSync('groupadd', ['-f', 'postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return unprivilegedUser();
  }
}
