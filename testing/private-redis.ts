import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';
import { accepts } from './pgbouncer.js';
import { findBinary } from './system-binaries.js';

/**
 * A redis-server of a test's own on a free port, keeping nothing on disk, that the test can stop
 * (a Redis outage) and start again on the same port. The shared Redis at 127.0.0.1:6379 is never
 * stopped.
 */
export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    private readonly binary: string,
    readonly port: number,
  ) {}

  /** Reserves a port; `start()` runs the server. */
  static async create(): Promise<PrivateRedis> {
    const binary = findBinary('redis-server');
    if (!binary) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
    return new PrivateRedis(binary, await freePort());
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const child = spawn(this.binary, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    this.process = child;
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      if (await accepts(this.port)) return;
      await sleep(50);
    }
    throw new Error('the private redis-server did not start');
  }

  async stop(): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }
}
