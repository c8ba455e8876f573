import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:net';

export interface RunningPaymentsService {
  url: string;
  adminToken: string;
  stop(): Promise<void>;
}

/**
 * Starts this repository's payments service (`node dist/src/main.js`, built by `npm run build` at
 * the root) as a process of its own, the way it runs in production. Without DATABASE_URL it starts
 * its embedded PostgreSQL under the repository's .data/pg.
 */
export async function startPaymentsService(repositoryRoot: string): Promise<RunningPaymentsService> {
  const port = await freePort();
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    cwd: repositoryRoot,
    env: {
      ...process.env,
      PORT: String(port),
      ADMIN_TOKEN: adminToken,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The demo's shop receives webhooks at an http://127.0.0.1 URL, from a worker in the service.
      WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on',
      WEBHOOK_WORKER_ENABLED: 'on',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };

  // The first start initialises the database, which takes a while on a small machine.
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the payments service exited with code ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error('the payments service was not ready within 2 minutes');
    }
    const ready = await fetch(`${url}/health/ready`).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return { url, adminToken, stop };
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
