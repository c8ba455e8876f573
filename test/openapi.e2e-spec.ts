import { readFileSync } from 'node:fs';
import { TcpProxy } from '../testing/tcp-proxy.js';
import { ADMIN_SCOPE } from '../src/idempotency/idempotency.interceptor.js';
import { keyLockId } from '../src/idempotency/key-rules.js';
import { ADMIN_TOKEN, MerchantClient, TestApp, type Reply } from './support/test-app.js';

// The answers openapi.json declares on every operation are answers the service really gives:
// each operation of the document is sent the requests that provoke them, and TestApp checks
// every reply against the document (test/support/openapi-responses.ts). New operations are
// covered as they appear in the document.

interface Operation {
  method: string;
  template: string;
  operationId: string;
  statuses: string[];
  example: unknown;
  public: boolean;
  admin: boolean;
}

const document = JSON.parse(readFileSync('openapi.json', 'utf8'));
const OPERATIONS: Operation[] = Object.entries<any>(document.paths).flatMap(([template, operations]) =>
  Object.entries<any>(operations).map(([method, operation]) => ({
    method: method.toUpperCase(),
    template,
    operationId: operation.operationId,
    statuses: Object.keys(operation.responses),
    example: operation.requestBody?.content['application/json'].examples.example.value,
    public: operation.security.length === 0,
    admin: operation.security.some((requirement: object) => 'admin_token' in requirement),
  })),
);
const WITH_BODY = OPERATIONS.filter((operation) => operation.example !== undefined);
const AUTHENTICATED = OPERATIONS.filter((operation) => !operation.public);

function pathOf(operation: Operation, id = 'customer-42'): string {
  return operation.template.replace('{id}', id);
}

function expectCode(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, code: reply.body?.code }).toEqual({ status, code });
}

describe('every answer openapi.json declares is one the service gives', () => {
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    app = await TestApp.start();
    merchant = await app.merchant('openapi');
  });
  afterAll(() => app.close());

  function send(operation: Operation, options: Parameters<TestApp['request']>[2] = {}, path = pathOf(operation)): Promise<Reply> {
    return app.request(operation.method, path, { token: operation.admin ? ADMIN_TOKEN : merchant.apiKey, ...options });
  }

  it.each(OPERATIONS.map((operation) => [operation.operationId, operation] as const))(
    '%s: 400 validation_failed for a query value the service refuses',
    async (_name, operation) => {
      expectCode(await send(operation, { body: operation.example }, `${pathOf(operation)}?probe=%00`), 400, 'validation_failed');
    },
  );

  it.each(AUTHENTICATED.map((operation) => [operation.operationId, operation] as const))(
    '%s: 401 unauthenticated without a key',
    async (_name, operation) => {
      const reply = await send(operation, { token: null, body: operation.example });
      expectCode(reply, 401, 'unauthenticated');
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    },
  );

  it.each(
    OPERATIONS.filter((operation) => operation.template.includes('{id}')).map((operation) => [operation.operationId, operation] as const),
  )('%s: 404 not_found for an id no object can have', async (_name, operation) => {
    expectCode(await send(operation, { body: operation.example }, pathOf(operation, 'x'.repeat(150))), 404, 'not_found');
  });

  it.each(WITH_BODY.map((operation) => [operation.operationId, operation] as const))(
    '%s: 413 payload_too_large and 415 unsupported_media_type',
    async (_name, operation) => {
      expectCode(await send(operation, { body: { name: 'x'.repeat(110 * 1024) } }), 413, 'payload_too_large');
      expectCode(await send(operation, { raw: 'hello', headers: { 'content-type': 'text/plain' } }), 415, 'unsupported_media_type');
    },
  );

  it.each(WITH_BODY.map((operation) => [operation.operationId, operation] as const))(
    '%s: 422 idempotency_key_reused for the key of another request',
    async (_name, operation) => {
      const key = `openapi-reused-${operation.operationId}`;
      const first = await send(operation, { body: operation.example, key });
      expect(first.headers.get('idempotency-expires')).not.toBeNull();
      expectCode(
        await send(operation, { body: { ...(operation.example as object), other: 'request' }, key }),
        422,
        'idempotency_key_reused',
      );
    },
  );

  it('409 idempotency_request_in_progress with Retry-After on every keyed operation while another request holds the key', async () => {
    const keyed = WITH_BODY.map((operation) => ({ operation, key: `openapi-busy-${operation.operationId}` }));
    // What a request does while it runs: hold the key's advisory lock (session-level here, so it
    // outlives any one statement).
    const holder = app.dataSource.createQueryRunner();
    await holder.connect();
    try {
      for (const { operation, key } of keyed) {
        await holder.query(`SELECT pg_advisory_lock(${keyLockId('$1', '$2')})`, [operation.admin ? ADMIN_SCOPE : merchant.id, key]);
      }
      const replies = await Promise.all(keyed.map(({ operation, key }) => send(operation, { body: operation.example, key })));
      for (const reply of replies) {
        expectCode(reply, 409, 'idempotency_request_in_progress');
        expect(reply.headers.get('retry-after')).toBe('1');
      }
    } finally {
      await holder.query('SELECT pg_advisory_unlock_all()');
      await holder.release();
    }
  });

  describe('past the rate limit', () => {
    let limited: TestApp;

    beforeAll(async () => {
      limited = await TestApp.start({ rateLimitPerSecond: 1 });
    });
    afterAll(() => limited.close());

    it('429 rate_limited with Retry-After on every authenticated operation', async () => {
      const busy = await limited.merchant('openapi rate limited');
      for (const operation of AUTHENTICATED) {
        const token = operation.admin ? ADMIN_TOKEN : busy.apiKey;
        let reply: Reply | undefined;
        for (let attempt = 0; attempt < 3 && reply?.status !== 429; attempt++) {
          reply = await limited.request(operation.method, pathOf(operation), { token, body: operation.example });
        }
        expectCode(reply!, 429, 'rate_limited');
        expect(Number(reply!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
    });
  });

  describe('while the database is unreachable', () => {
    let proxy: TcpProxy;
    let cutOff: TestApp;

    beforeAll(async () => {
      const databaseUrl = process.env.TEST_DATABASE_URL!;
      proxy = TcpProxy.forDatabaseUrl(databaseUrl);
      await proxy.start();
      cutOff = await TestApp.start({}, proxy.urlFor(databaseUrl));
      await proxy.cut();
    });
    afterAll(async () => {
      await cutOff.close();
      await proxy.cut();
    });

    it('503 unavailable with Retry-After on every operation that reads the database', async () => {
      const databaseFree = ['checkLiveness', 'getMetrics'];
      for (const operation of OPERATIONS.filter(({ operationId }) => !databaseFree.includes(operationId))) {
        const token = operation.admin ? ADMIN_TOKEN : merchant.apiKey;
        const reply = await cutOff.request(operation.method, pathOf(operation), { token, body: operation.example });
        expectCode(reply, 503, 'unavailable');
        expect(reply.headers.get('retry-after')).toBe('1');
      }
      expect((await cutOff.request('GET', '/health/live')).status).toBe(200);
      expect((await cutOff.request('GET', '/metrics')).status).toBe(200);
    });
  });
});
