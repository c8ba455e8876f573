import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import pg from 'pg';
import { freePort } from '../src/common/free-port.js';
import { spawnService, waitUntilReady, type SpawnedService } from '../testing/service-process.js';

// The compiled service as a real process (npm test builds it first): configuration checks at
// start, JSON logs without secrets, and a graceful SIGTERM.

const ADMIN = 'process-admin-token-0123456789';

function run(env: Record<string, string>): SpawnedService {
  return spawnService({ DATABASE_URL: process.env.TEST_DATABASE_URL!, ADMIN_TOKEN: ADMIN, ...env });
}

async function waitReady(base: string, service: SpawnedService): Promise<void> {
  if (!(await waitUntilReady(base, service.child))) throw new Error(`service did not become ready:\n${service.output()}`);
}

/** POSTs with a fresh Idempotency-Key to the service at `base`. */
function poster(base: string) {
  return (path: string, token: string, body: unknown) =>
    fetch(base + path, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'idempotency-key': randomUUID(), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
}

describe('the service process', () => {
  it('prints a generated ADMIN_TOKEN whatever LOG_LEVEL says, in the same JSON format', async () => {
    const port = await freePort();
    const service = run({ PORT: String(port), ADMIN_TOKEN: '', LOG_LEVEL: 'error' });
    try {
      await waitReady(`http://127.0.0.1:${port}`, service);
      const lines = service
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as { level: string; msg: string; context?: string });
      expect(lines).toEqual([
        expect.objectContaining({
          level: 'warn',
          context: 'Bootstrap',
          msg: expect.stringMatching(/^ADMIN_TOKEN was not set; generated for this run: admin_/),
        }),
      ]);
    } finally {
      service.child.kill('SIGKILL');
    }
  });

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
      await waitReady(base, service);
      const post = poster(base);
      const merchant = (await (await post('/v1/merchants', ADMIN, { name: 'proc' })).json()) as { api_key: string };
      const account = (await (await post('/v1/accounts', merchant.api_key, { currency: 'usd' })).json()) as { id: string };
      await post(`/v1/accounts/${account.id}/deposits`, merchant.api_key, { amount: 1_000_000 });
      // A client that puts its key (or the admin token) in the URL must not find it in the log.
      await fetch(`${base}/v1/accounts?api_key=${merchant.api_key}`);
      await fetch(`${base}/v1/accounts?limit=2&x=${merchant.api_key}&token=${ADMIN}`);
      // The key routes: a created and a rolled secret, a revoked one used and refused.
      const created = (await (await post('/v1/api_keys', merchant.api_key, { name: 'logged?' })).json()) as { id: string; secret: string };
      const rolled = (await (await post(`/v1/api_keys/${created.id}/roll`, created.secret, { expires_in_seconds: 0 })).json()) as {
        id: string;
        secret: string;
      };
      await fetch(`${base}/v1/api_keys/${rolled.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${merchant.api_key}` } });
      await fetch(`${base}/v1/balance`, { headers: { authorization: `Bearer ${rolled.secret}` } });
      const secrets = [created.secret, rolled.secret];

      // Hold the source account's row lock so that a charge is surely in flight when SIGTERM lands.
      const blocker = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await blocker.connect();
      await blocker.query('BEGIN');
      await blocker.query(`SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE`, [account.id]);
      const inFlight = post('/v1/charges', merchant.api_key, { amount: 1, currency: 'usd', source: account.id });
      // The synchronisation points: the database shows the charge waiting for the blocker's lock;
      // then the service, told SIGTERM, stops taking connections (asked until it refuses, bounded).
      const blockerPid = (await blocker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      const waiting = async () =>
        (await blocker.query('SELECT 1 FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [blockerPid])).rows.length > 0;
      for (let i = 0; i < 200 && !(await waiting()); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await waiting()).toBe(true);
      service.child.kill('SIGTERM');
      const live = () =>
        fetch(`${base}/health/live`).then(
          () => 'answered',
          () => 'refused',
        );
      for (let i = 0; i < 100 && (await live()) === 'answered'; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await live()).toBe('refused');
      await blocker.query('COMMIT');
      await blocker.end();
      expect((await inFlight).status).toBe(201);
      expect(await service.exited).toBe(0);

      const logs = service.output();
      expect(logs).not.toContain(merchant.api_key);
      for (const secret of secrets) expect(logs).not.toContain(secret);
      expect(logs).toContain(rolled.id); // key ids are not secrets
      expect(logs).not.toContain(ADMIN);
      expect(logs).toContain('SIGTERM');

      // One schema for every line of the process: Fastify's request lines and Nest's own.
      const lines = logs
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      for (const line of lines) {
        expect(line).toEqual(
          expect.objectContaining({ level: expect.any(String), time: expect.any(String), pid: service.child.pid, msg: expect.any(String) }),
        );
        expect(['debug', 'info', 'warn', 'error', 'fatal']).toContain(line.level);
        expect(JSON.stringify(line)).not.toMatch(/authorization|idempotency-key/i); // never headers
      }
      const requestLines = lines.filter((line) => line.msg === 'request completed');
      const nestLines = lines.filter((line) => line.context === 'RouterExplorer' || line.context === 'Bootstrap');
      expect(requestLines.length).toBeGreaterThan(0);
      expect(nestLines.length).toBeGreaterThan(0);
      for (const line of requestLines)
        expect(line).toEqual(expect.objectContaining({ reqId: expect.any(String), res: { statusCode: expect.any(Number) } }));
      // The URLs that carried secrets are logged masked.
      const urls = lines.map((line) => (line.req as { url?: string } | undefined)?.url).filter(Boolean);
      expect(urls.some((url) => url!.startsWith('/v1/accounts?'))).toBe(true);
    } finally {
      service.child.kill('SIGKILL');
    }
  });

  it('X-Request-Id is kept only when it matches the pattern and holds no secret: an API key or the admin token sent there is replaced, never echoed or logged', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = run({ PORT: String(port), LOG_LEVEL: 'debug' });
    try {
      await waitReady(base, service);
      const merchant = (await (await poster(base)('/v1/merchants', ADMIN, { name: 'request ids' })).json()) as { api_key: string };
      const secretHalf = merchant.api_key.split('.')[1]!;
      const echoed = async (requestId: string, token?: string) => {
        const response = await fetch(`${base}/v1/balance`, {
          headers: { 'x-request-id': requestId, ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
        });
        await response.text();
        return response.headers.get('x-request-id')!;
      };

      // A well-formed id is kept, colons included, and logged.
      expect(await echoed('order-7:pay.1', merchant.api_key)).toBe('order-7:pay.1');
      // A key pasted into the header (with and without its Authorization), inside a longer id, the admin token.
      for (const secret of [merchant.api_key, `req-${merchant.api_key}`, ADMIN]) {
        for (const token of [merchant.api_key, undefined]) expect(await echoed(secret, token)).toMatch(/^[0-9a-f-]{36}$/);
      }
      // The secret half of the key the request authenticates with.
      expect(await echoed(secretHalf, merchant.api_key)).toMatch(/^[0-9a-f-]{36}$/);
      // Unauthenticated with the id, on a 401: still replaced.
      expect(await echoed(merchant.api_key, 'sk_mer_nobody.' + 'x'.repeat(43))).toMatch(/^[0-9a-f-]{36}$/);

      service.child.kill('SIGTERM');
      await service.exited;
      const logs = service.output();
      expect(logs).toContain('"reqId":"order-7:pay.1"');
      expect(logs).not.toContain(merchant.api_key);
      expect(logs).not.toContain(secretHalf);
      expect(logs).not.toContain(ADMIN);
    } finally {
      service.child.kill('SIGKILL');
    }
  });

  it('survives the database ending its connections: 503 with Retry-After meanwhile, then new connections', async () => {
    // A database of its own, so that terminating its connections touches no other test's.
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    const database = `${new URL(process.env.TEST_DATABASE_URL!).pathname.slice(1)}_lost_connections`;
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.query(`CREATE DATABASE "${database}"`);
    const url = new URL(process.env.TEST_DATABASE_URL!);
    url.pathname = `/${database}`;
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = run({ PORT: String(port), DATABASE_URL: url.toString(), RATE_LIMIT_PER_SECOND: '0', LOG_LEVEL: 'error' });
    let terminating = true;
    try {
      await waitReady(base, service);
      const post = poster(base);
      const merchant = (await (await post('/v1/merchants', ADMIN, { name: 'lost' })).json()) as { api_key: string };
      const account = (await (await post('/v1/accounts', merchant.api_key, { currency: 'usd' })).json()) as { id: string };
      expect((await post(`/v1/accounts/${account.id}/deposits`, merchant.api_key, { amount: 1_000_000 })).status).toBe(201);

      // What a restart, a failover or an idle-session timeout does: the server ends the sessions.
      const terminator = (async () => {
        while (terminating) {
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
            database,
          ]);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const answers: { status: number; retryAfter: string | null }[] = [];
      const until = Date.now() + 3_000;
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          while (Date.now() < until && service.child.exitCode === null) {
            const response = await post('/v1/charges', merchant.api_key, { amount: 1, currency: 'usd', source: account.id }).catch(
              () => undefined,
            );
            if (response) answers.push({ status: response.status, retryAfter: response.headers.get('retry-after') });
            else await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }),
      );
      terminating = false;
      await terminator;

      expect(service.child.exitCode).toBeNull();
      expect(answers.filter((answer) => answer.status === 503).length).toBeGreaterThan(0);
      for (const answer of answers) {
        expect([201, 503]).toContain(answer.status);
        if (answer.status === 503) expect(answer.retryAfter).toBe('1');
      }
      // The next requests get new connections.
      expect((await post('/v1/charges', merchant.api_key, { amount: 1, currency: 'usd', source: account.id })).status).toBe(201);
      // Every 503 is counted by what the server said: 57P01 for a terminated session, "connection"
      // for a connection lost without an answer.
      const metrics = await (await fetch(`${base}/metrics`)).text();
      const counted = [...metrics.matchAll(/^database_unavailable_total\{sqlstate="([^"]+)"\} (\d+)/gm)];
      expect(counted.reduce((sum, [, , n]) => sum + Number(n), 0)).toBe(answers.filter((answer) => answer.status === 503).length);
      for (const [, state] of counted) expect(['57P01', 'connection']).toContain(state);
    } finally {
      terminating = false;
      service.child.kill('SIGKILL');
      await service.exited;
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it('does not take a client that aborts its upload for a database outage', async () => {
    const port = await freePort();
    const service = run({ PORT: String(port), LOG_LEVEL: 'warn' });
    try {
      await waitReady(`http://127.0.0.1:${port}`, service);
      for (let i = 0; i < 5; i++) {
        // Announce a body of 1000 bytes, send 20, and hang up.
        const socket = connect(port, '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          `POST /v1/charges HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sk_x\r\nIdempotency-Key: k${i}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"amount": 1, "curr`,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(service.output()).not.toContain('database unavailable');
      expect(service.child.exitCode).toBeNull();
      // LOG_LEVEL=warn: nothing below warn, from Fastify or from Nest.
      const levels = service
        .output()
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => (JSON.parse(line) as { level: string }).level);
      expect(levels.filter((level) => level === 'info' || level === 'debug')).toEqual([]);
    } finally {
      service.child.kill('SIGKILL');
    }
  });
});
