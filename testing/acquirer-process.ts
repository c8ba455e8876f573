import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';

// The simulated acquirer (acquirer/, npm run acquirer) as the real process it is for tests and the
// chaos harness: the compiled `node dist/acquirer/main.js` (npm test and npm run chaos build it
// first) on a port of its own, with a journal folder of its own that survives a stop, a SIGKILL
// and a restart. "Acquirer down" is this process not running.

const START_TIMEOUT_MS = 30_000;
const OUTPUT_KEPT_CHARS = 100_000;

export interface AcquirerProcessOptions {
  /** ACQUIRER_FAULTS (acquirer/README.md); none by default. */
  faults?: string;
  /** Where the journal lives; a fresh temporary folder by default, removed by `close`. */
  dataDir?: string;
  /** More environment (ACQUIRER_KEY_TTL_SECONDS, ...). */
  env?: Record<string, string>;
  /** Copy the acquirer's stderr to ours. */
  echo?: boolean;
}

export class AcquirerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private written = '';
  /** Exits nobody asked for (stop, kill and close are asked for), one line each. */
  readonly unexpectedExits: string[] = [];
  readonly url: string;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    private readonly options: AcquirerProcessOptions,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async start(options: AcquirerProcessOptions = {}): Promise<AcquirerProcess> {
    const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'acquirer-'));
    const acquirer = new AcquirerProcess(await freePort(), dataDir, options.dataDir === undefined, options);
    await acquirer.restart();
    return acquirer;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the acquirer processes wrote, across restarts. */
  output(): string {
    return this.written;
  }

  /** Starts it (again, on the same port and journal) and waits until it answers. */
  async restart(): Promise<void> {
    if (this.running) throw new Error('the acquirer is already running');
    const child = spawn(process.execPath, ['dist/acquirer/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        ACQUIRER_PORT: String(this.port),
        ACQUIRER_DATA_DIR: this.dataDir,
        ACQUIRER_FAULTS: this.options.faults ?? '',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      if (this.written.length < OUTPUT_KEPT_CHARS) this.written += chunk.toString();
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', (chunk: Buffer) => {
      if (this.options.echo) process.stderr.write(chunk);
      keep(chunk);
    });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        if (this.child === child) this.unexpectedExits.push(`the acquirer exited by itself (exit code ${code}, signal ${signal})`);
        resolve();
      }),
    );
    const giveUpAt = Date.now() + START_TIMEOUT_MS;
    while (this.running && Date.now() < giveUpAt) {
      if (await this.answers()) return;
      await sleep(50);
    }
    await this.kill();
    throw new Error(`the acquirer did not start; it wrote: ${this.written.slice(-2000)}`);
  }

  /** SIGTERM: it closes its connections and exits. */
  async stop(): Promise<void> {
    return this.signal('SIGTERM');
  }

  /** SIGKILL: what it answered is in its journal, nothing else survives. */
  async kill(): Promise<void> {
    return this.signal('SIGKILL');
  }

  /** Stops it and removes the journal folder it made. */
  async close(): Promise<void> {
    await this.kill();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = undefined; // asked for: not unexpected
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await this.exited;
  }

  private async answers(): Promise<boolean> {
    return fetch(`${this.url}/health`).then(
      (response) => response.ok,
      () => false,
    );
  }
}
