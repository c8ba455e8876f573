import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';
import { findBinary } from './system-binaries.js';

/** The configuration docker compose uses too: the variables below fill it in. */
const CONFIG_DIR = path.resolve('deploy/fleet');

/**
 * Debian's HAProxy in front of the service's instances, as a process on a free port, with the
 * committed deploy/fleet/haproxy.cfg (round robin, health-checked on /health/ready, its own
 * failures answered as the service's 503). Stopped with SIGTERM.
 */
export class HaProxy {
  private constructor(
    private readonly process: ChildProcess,
    readonly port: number,
    private readonly output: () => string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** `instances` are the ports of the three instances. */
  static async start(instances: number[]): Promise<HaProxy> {
    const binary = findBinary('haproxy');
    if (!binary) throw new Error('haproxy is not installed (apt-get install -y haproxy)');
    if (instances.length !== 3) throw new Error('deploy/fleet/haproxy.cfg names three instances');
    const port = await freePort();
    const child = spawn(binary, ['-db', '-f', path.join(CONFIG_DIR, 'haproxy.cfg')], {
      env: {
        PATH: process.env.PATH ?? '',
        HAPROXY_BIND: `127.0.0.1:${port}`,
        HAPROXY_ERRORS: CONFIG_DIR,
        API_1: `127.0.0.1:${instances[0]}`,
        API_2: `127.0.0.1:${instances[1]}`,
        API_3: `127.0.0.1:${instances[2]}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const proxy = new HaProxy(child, port, () => output);
    for (let i = 0; i < 100 && child.exitCode === null; i++) {
      const answered = await fetch(`${proxy.url}/health/live`).then(
        () => true,
        () => false,
      );
      if (answered) return proxy;
      await sleep(50);
    }
    child.kill('SIGKILL');
    throw new Error(`haproxy did not start: ${output}`);
  }

  /** Waits until a request through HAProxy finds an instance ready. */
  async waitUntilReady(timeoutMs = 20_000): Promise<void> {
    const giveUpAt = Date.now() + timeoutMs;
    while (Date.now() < giveUpAt) {
      const ok = await fetch(`${this.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ok) return;
      await sleep(100);
    }
    throw new Error(`no instance behind haproxy became ready; it wrote: ${this.output().slice(-2000)}`);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await exited;
  }
}
