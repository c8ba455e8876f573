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
 * the root) as a process of its own, the way it runs in production, and the simulated card acquirer
 * it charges cards through (`node dist/acquirer/main.js`, its journal under .data/acquirer).
 * Without DATABASE_URL the service starts its embedded PostgreSQL under the repository's .data/pg.
 */
export async function startPaymentsService(repositoryRoot: string): Promise<RunningPaymentsService> {
  const acquirerPort = await freePort();
  const acquirer = await startProcess(
    repositoryRoot,
    'the card acquirer',
    'dist/acquirer/main.js',
    `http://127.0.0.1:${acquirerPort}/health`,
    {
      ACQUIRER_PORT: String(acquirerPort),
    },
  );
  const port = await freePort();
  const adminToken = `admin_${randomBytes(24).toString('base64url')}`;
  let service: { stop: () => Promise<void> };
  try {
    // The first start initialises the database, which takes a while on a small machine.
    service = await startProcess(repositoryRoot, 'the payments service', 'dist/src/main.js', `http://127.0.0.1:${port}/health/ready`, {
      PORT: String(port),
      ADMIN_TOKEN: adminToken,
      ACQUIRER_URL: `http://127.0.0.1:${acquirerPort}`,
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // The demo's shop receives webhooks at an http://127.0.0.1 URL, from a worker in the service.
      WEBHOOK_ALLOW_HTTP_LOOPBACK: 'on',
      WEBHOOK_WORKER_ENABLED: 'on',
    });
  } catch (error) {
    await acquirer.stop();
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    adminToken,
    stop: async () => {
      await service.stop();
      await acquirer.stop();
    },
  };
}

/** Starts `node <script>` at the repository's root and waits until `readyUrl` answers 2xx (2 minutes at most). */
async function startProcess(
  repositoryRoot: string,
  name: string,
  script: string,
  readyUrl: string,
  env: Record<string, string>,
): Promise<{ stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [script], {
    cwd: repositoryRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`${name} was not ready within 2 minutes`);
    }
    const ready = await fetch(readyUrl).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) return { stop };
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
