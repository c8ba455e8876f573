import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { freePort } from '../src/database/embedded-postgres.js';

// The compiled service as a real process (npm test builds it first): configuration checks at
// start, JSON logs without secrets, and a graceful SIGTERM.

const ADMIN = 'process-admin-token-0123456789';

function run(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['dist/src/main.js'], {
    env: { PATH: process.env.PATH ?? '', DATABASE_URL: process.env.TEST_DATABASE_URL!, ADMIN_TOKEN: ADMIN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function waitReady(base: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${base}/health/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('service did not become ready');
}

describe('the service process', () => {
  it('refuses to start on invalid configuration, naming the variable', async () => {
    const service = run({ PORT: 'not-a-port' });
    expect(await service.exited).toBe(1);
    expect(service.output()).toContain('PORT');
  });

  it('logs JSON with request ids and never an API key; on SIGTERM finishes in-flight requests and exits', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = run({ PORT: String(port), LOG_LEVEL: 'debug' });
    try {
      await waitReady(base).catch((error: Error) => {
        throw new Error(`${error.message}:\n${service.output()}`);
      });
      const post = (path: string, token: string, body: unknown) =>
        fetch(base + path, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const merchant = (await (await post('/v1/merchants', ADMIN, { name: 'proc' })).json()) as { api_key: string };
      const account = (await (await post('/v1/accounts', merchant.api_key, { currency: 'usd' })).json()) as { id: string };
      await post(`/v1/accounts/${account.id}/deposits`, merchant.api_key, { amount: 1_000_000 });

      // Hold the source account's row lock so that a charge is surely in flight when SIGTERM lands.
      const blocker = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, [account.id]);
      const inFlight = post('/v1/charges', merchant.api_key, { amount: 1, currency: 'usd', source: account.id });
      await new Promise((resolve) => setTimeout(resolve, 300));
      service.child.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(
        await fetch(`${base}/health/live`).then(
          () => 'answered',
          () => 'refused',
        ),
      ).toBe('refused');
      await blocker.query('COMMIT');
      await blocker.end();
      expect((await inFlight).status).toBe(201);
      expect(await service.exited).toBe(0);

      const logs = service.output();
      expect(logs).not.toContain(merchant.api_key);
      expect(logs).not.toContain(ADMIN);
      const requestLines = logs
        .split('\n')
        .filter((line) => line.startsWith('{') && line.includes('"reqId"'))
        .map((line) => JSON.parse(line) as { reqId: string });
      expect(requestLines.length).toBeGreaterThan(0);
      expect(logs).toContain('SIGTERM');
    } finally {
      service.child.kill('SIGKILL');
    }
  });
});
