import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

/**
 * A program on PATH, as a shell would find it; undefined when it is not there. Debian installs
 * haproxy and pgbouncer to /usr/sbin, which a non-root PATH may lack: `.ci/run` puts it on PATH.
 */
export function findBinary(name: string): string | undefined {
  for (const folder of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
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

/** The fleet's parts (haproxy, pgbouncer) that are not on PATH; `.ci/run` installs them. */
export function missingFleetBinaries(): string[] {
  return ['haproxy', 'pgbouncer'].filter((name) => findBinary(name) === undefined);
}

/**
 * Why a suite cannot run without `missing`: the failure to report, with the install command, or
 * undefined when the run opted out explicitly (`optOut`=1 in the environment), which is then said
 * in the output. A missing program never passes unnoticed.
 */
export function missingBinaryMessage(missing: string[], installCommand: string, optOut: string, suite: string): string | undefined {
  const message = `${suite} cannot run: ${missing.join(' and ')} not found on PATH (${process.env.PATH ?? ''}).`;
  if (process.env[optOut] === '1') {
    console.warn(`${message} NOT RUN, as ${optOut}=1 asks.`);
    return undefined;
  }
  return `${message} Install with: ${installCommand} (Debian installs some to /usr/sbin: put it on PATH), or set ${optOut}=1 to run without them.`;
}

/** The fleet's message: haproxy and pgbouncer, opted out of with SKIP_FLEET_TESTS=1. */
export function missingFleetMessage(missing: string[], suite = 'The fleet tests'): string | undefined {
  return missingBinaryMessage(missing, 'apt-get install -y haproxy pgbouncer', 'SKIP_FLEET_TESTS', suite);
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
