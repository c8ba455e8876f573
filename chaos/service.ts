import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../src/database/embedded-postgres.js';
import { sleep } from './cluster.js';

export const ADMIN_TOKEN = 'chaos-admin-token-0123456789';

/** One instance of the real service (node dist/src/main.js), which the harness may SIGKILL. */
export class ServiceProcess {
  private child: ChildProcess | undefined;
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

  async restart(): Promise<void> {
    this.child = spawn(process.execPath, ['dist/src/main.js'], {
      env: {
        PATH: process.env.PATH ?? '',
        PORT: String(this.port),
        DATABASE_URL: this.databaseUrl,
        ADMIN_TOKEN,
        RATE_LIMIT_PER_SECOND: '0',
        LOG_LEVEL: 'error',
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (let i = 0; i < 300; i++) {
      const ready = await fetch(`${this.url}/health/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await sleep(100);
    }
    throw new Error('the service did not become ready');
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
  }
}
