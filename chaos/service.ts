import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../src/database/embedded-postgres.js';
import { sleep } from './cluster.js';

export const ADMIN_TOKEN = 'chaos-admin-token-0123456789';

/** How much of what a child wrote since it was ready a violation quotes: the start of a crash report. */
const OUTPUT_KEPT_CHARS = 300;
const START_TIMEOUT_MS = 60_000;

/**
 * One instance of the real service (node dist/src/main.js), which the harness may SIGKILL. A
 * service must survive every fault but a kill: an exit the harness did not cause is recorded as a
 * violation, and the service is started again so that the scenario (and its checks) can go on.
 */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  /** What the child wrote to stderr since it started, then since it was ready (the start of it). */
  private output = '';
  private restarting: Promise<void> | undefined;
  /** Exits the harness did not cause, one line each. */
  readonly unexpectedExits: string[] = [];
  readonly url: string;

  private constructor(
    private readonly port: number,
    private readonly databaseUrl: string,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(databaseUrl: string): Promise<ServiceProcess> {
    const service = new ServiceProcess(await freePort(), databaseUrl);
    await service.restart();
    return service;
  }

  /**
   * Starts the process and waits until it is ready. A start that fails (it can, while the
   * database is being broken on purpose) is tried again for a while; only a service that was up
   * and then exited counts as a violation.
   */
  async restart(): Promise<void> {
    const giveUpAt = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const child = this.spawn();
      if (await this.becameReady(child, giveUpAt)) {
        this.child = child;
        this.output = '';
        if (child.exitCode !== null || child.signalCode !== null) this.exitedByItself(child, child.exitCode, child.signalCode);
        else child.once('exit', (code, signal) => this.exitedByItself(child, code, signal));
        return;
      }
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (Date.now() >= giveUpAt) throw new Error(`the service did not become ready; it wrote: ${this.said()}`);
      await sleep(200);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    await this.restarting;
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }

  private spawn(): ChildProcess {
    this.output = '';
    const child = spawn(process.execPath, ['dist/src/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(this.port),
        DATABASE_URL: this.databaseUrl,
        ADMIN_TOKEN,
        RATE_LIMIT_PER_SECOND: '0',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    // Shown as before, and kept so that a violation can quote what the process said as it died.
    child.stderr.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      if (this.output.length < OUTPUT_KEPT_CHARS) this.output = (this.output + chunk.toString()).slice(0, OUTPUT_KEPT_CHARS);
    });
    return child;
  }

  private async becameReady(child: ChildProcess, giveUpAt: number): Promise<boolean> {
    while (Date.now() < giveUpAt && child.exitCode === null && child.signalCode === null) {
      const ready = await fetch(`${this.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return true;
      await sleep(100);
    }
    return false;
  }

  private exitedByItself(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return; // stopped by the harness
    this.child = undefined;
    this.unexpectedExits.push(`the service exited by itself (exit code ${code}, signal ${signal}); it wrote: ${this.said()}`);
    this.restarting = this.restart().catch((error: unknown) => {
      this.unexpectedExits.push(`and could not be started again: ${String(error)}`);
    });
  }

  private said(): string {
    return JSON.stringify(this.output.replace(/\s+/g, ' ').trim());
  }
}
