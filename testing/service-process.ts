import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';

// The one way tests, the chaos harness and the bench run the service: the compiled
// `node dist/src/main.js` as a process of its own (npm test, npm run chaos and npm run bench build
// it first), exactly as it runs in production.

/** How much of what a process wrote is kept (logs checked by tests, the start of a crash report). */
const OUTPUT_KEPT_CHARS = 1_000_000;
const START_TIMEOUT_MS = 60_000;

export interface SpawnedService {
  child: ChildProcess;
  /** What it wrote to stdout and stderr so far. */
  output(): string;
  /** Its exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Starts the service with exactly `env` (and PATH): nothing of this process's environment leaks
 * in. `echo` also copies its stderr to ours. `nodeOptions` go before the script (--cpu-prof, ...).
 */
export function spawnService(
  env: Record<string, string>,
  options: { echo?: boolean; nodeOptions?: string[]; cwd?: string } = {},
): SpawnedService {
  const child = spawn(process.execPath, [...(options.nodeOptions ?? []), 'dist/src/main.js'], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    if (output.length < OUTPUT_KEPT_CHARS) output += chunk.toString();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', (chunk: Buffer) => {
    if (options.echo) process.stderr.write(chunk);
    keep(chunk);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** Waits until `url`/health/ready answers 200; false when the process ended or time ran out. */
export async function waitUntilReady(url: string, child: ChildProcess, timeoutMs = START_TIMEOUT_MS): Promise<boolean> {
  const giveUpAt = Date.now() + timeoutMs;
  while (Date.now() < giveUpAt && child.exitCode === null && child.signalCode === null) {
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return true;
    await sleep(100);
  }
  return false;
}

export interface ServiceOptions {
  databaseUrl: string;
  adminToken: string;
  /** More environment (RATE_LIMIT_PER_SECOND defaults to 0 and LOG_LEVEL to error). */
  env?: Record<string, string>;
  /** Copy the service's stderr to ours (the chaos harness shows it). */
  echo?: boolean;
  nodeOptions?: string[];
  /** The checkout whose build runs (the bench's A/B run starts another commit's); this one by default. */
  cwd?: string;
  /**
   * Armed with the card charges' kill hook (CARD_CHARGE_CRASH_AT): its own SIGKILLs are expected,
   * counted in `crashes` and followed by a restart, not recorded as unexpected exits.
   */
  crashesOnPurpose?: boolean;
}

/**
 * One instance of the real service on a port of its own, which its user may SIGKILL and restart.
 * A service must survive every fault but a kill: an exit its user did not cause is recorded in
 * `unexpectedExits`, and the service is started again so that whatever runs can go on.
 */
export class ServiceProcess {
  private current: SpawnedService | undefined;
  /** Where the output of the current process was when it became ready. */
  private readyAt = 0;
  private restarting: Promise<void> | undefined;
  /** Exits nobody caused, one line each. */
  readonly unexpectedExits: string[] = [];
  /** SIGKILLs the process gave itself (crashesOnPurpose). */
  crashes = 0;
  readonly url: string;

  private constructor(
    readonly port: number,
    private readonly options: ServiceOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: ServiceOptions): Promise<ServiceProcess> {
    const service = new ServiceProcess(await freePort(), options);
    await service.restart();
    return service;
  }

  /** The process id of the running instance (to measure its memory, say). */
  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  /** Everything the running instance wrote. */
  output(): string {
    return this.current?.output() ?? '';
  }

  /**
   * Starts the process and waits until it is ready. A start that fails (it can, while the
   * database is being broken on purpose) is tried again for a while; only a service that was up
   * and then exited counts as unexpected.
   */
  async restart(): Promise<void> {
    const giveUpAt = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const spawned = spawnService(
        {
          PORT: String(this.port),
          DATABASE_URL: this.options.databaseUrl,
          ADMIN_TOKEN: this.options.adminToken,
          RATE_LIMIT_PER_SECOND: '0',
          LOG_LEVEL: 'error',
          ...this.options.env,
        },
        { echo: this.options.echo, nodeOptions: this.options.nodeOptions, cwd: this.options.cwd },
      );
      const { child } = spawned;
      if (await waitUntilReady(this.url, child, giveUpAt - Date.now())) {
        this.current = spawned;
        this.readyAt = spawned.output().length;
        if (child.exitCode !== null || child.signalCode !== null) this.exitedByItself(spawned, child.exitCode, child.signalCode);
        else child.once('exit', (code, signal) => this.exitedByItself(spawned, code, signal));
        return;
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (Date.now() >= giveUpAt) throw new Error(`the service did not become ready; it wrote: ${quote(spawned.output())}`);
      await sleep(200);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<number | null> {
    await this.restarting;
    const spawned = this.current;
    this.current = undefined;
    if (!spawned || spawned.child.exitCode !== null || spawned.child.signalCode !== null) return spawned?.child.exitCode ?? null;
    spawned.child.kill(signal);
    return spawned.exited;
  }

  /** SIGSTOP: the process stands still (a long pause, a frozen VM) with its connections open, until `resume`. */
  pause(): void {
    this.current?.child.kill('SIGSTOP');
  }

  resume(): void {
    this.current?.child.kill('SIGCONT');
  }

  private exitedByItself(spawned: SpawnedService, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.current !== spawned) return; // stopped on purpose
    this.current = undefined;
    if (this.options.crashesOnPurpose && signal === 'SIGKILL') {
      this.crashes++;
      this.restarting = this.restart().catch((error: unknown) => {
        this.unexpectedExits.push(`could not be started again after its own SIGKILL: ${String(error)}`);
      });
      return;
    }
    const said = quote(spawned.output().slice(this.readyAt, this.readyAt + 300));
    this.unexpectedExits.push(`the service exited by itself (exit code ${code}, signal ${signal}); it wrote: ${said}`);
    this.restarting = this.restart().catch((error: unknown) => {
      this.unexpectedExits.push(`and could not be started again: ${String(error)}`);
    });
  }
}

function quote(output: string): string {
  return JSON.stringify(output.replace(/\s+/g, ' ').trim().slice(0, 300));
}
