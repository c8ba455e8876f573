import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GatewayFault, GatewayStats, QueuedFaults } from './gateway-main.js';

export type { GatewayFault, GatewayStats } from './gateway-main.js';

/** The compiled gateway (npm test builds it with the service: nest build compiles testing/). */
const GATEWAY_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/testing/gateway/gateway-main.js');

/**
 * A gateway process in front of the real service (gateway-main.ts): it forwards each request,
 * lets the service commit, and then answers queued faults (nginx's 502 page, a 504 with JSON, a
 * reset) in the service's place.
 */
export class FaultyGateway {
  private constructor(
    private readonly child: ChildProcess,
    readonly baseUrl: string,
  ) {}

  static async start(serviceUrl: string): Promise<FaultyGateway> {
    const child = spawn(process.execPath, [GATEWAY_SCRIPT, new URL(serviceUrl).port], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /listening (\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before listening: ${output}`)));
    });
    return new FaultyGateway(child, `http://127.0.0.1:${port}`);
  }

  /** The next `count` requests to `method path` (default POST /v1/charges) reach the service, and their callers get `fault`. */
  async fail(fault: GatewayFault, count = 1, where: { method?: string; path?: string } = {}): Promise<void> {
    const faults: QueuedFaults = { fault, count, ...where };
    const response = await fetch(`${this.baseUrl}/__gateway/faults`, { method: 'POST', body: JSON.stringify(faults) });
    if (response.status !== 204) throw new Error(`the gateway refused the faults: ${response.status}`);
  }

  async clearFaults(): Promise<void> {
    await fetch(`${this.baseUrl}/__gateway/faults`, { method: 'DELETE' });
  }

  async stats(): Promise<GatewayStats> {
    return (await (await fetch(`${this.baseUrl}/__gateway/stats`)).json()) as GatewayStats;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
