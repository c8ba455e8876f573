import { PaymentsClient, type PaymentsAdminClient } from '@payments/client';
import { PaymentsAdminClient as AdminClient } from '@payments/client';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Fleet } from '../testing/fleet.js';
import { missingFleetBinaries, missingFleetMessage } from '../testing/system-binaries.js';

// The fleet with Debian's parts (testing/fleet.ts): three instances of the compiled service behind
// HAProxy, on PgBouncer in transaction pooling mode, with tracing on and spans written to a file
// (OTEL_TRACES_FILE). A charge sent through HAProxy by the TypeScript client is followed from the
// HTTP span to the SQL spans; every route works through the pooler. The faults are chaos scenario 11.

const ADMIN = 'fleet-admin-token-0123456789';

interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  pid: number;
}

const SERVER_KIND = 1; // SpanKind.SERVER

const missing = missingFleetBinaries();
if (missing.length > 0) {
  describe('the fleet', () => {
    it('haproxy and pgbouncer are installed (the run fails without them, unless SKIP_FLEET_TESTS=1 says to go without)', () => {
      const message = missingFleetMessage(missing);
      if (message !== undefined) throw new Error(message);
    });
  });
} else {
  describe('the fleet: three instances behind HAProxy, on PgBouncer', () => {
    let fleet: Fleet;
    let traces: string;
    let admin: PaymentsAdminClient;

    beforeAll(async () => {
      traces = path.join(await mkdtemp(path.join(tmpdir(), 'fleet-traces-')), 'spans.jsonl');
      fleet = await Fleet.start({
        databaseUrl: process.env.TEST_DATABASE_URL!,
        adminToken: ADMIN,
        env: { OTEL_TRACES_FILE: traces, LOG_LEVEL: 'info' },
      });
      admin = new AdminClient({ baseUrl: fleet.url, adminToken: ADMIN });
    }, 120_000);

    afterAll(async () => {
      await fleet?.stop();
      if (traces) await rm(path.dirname(traces), { recursive: true, force: true });
    });

    async function spansOf(traceId: string, until: (spans: SpanLine[]) => boolean): Promise<SpanLine[]> {
      for (let i = 0; ; i++) {
        const text = await readFile(traces, 'utf8').catch(() => '');
        const spans = text
          .split('\n')
          .filter((line) => line.includes(traceId))
          .map((line) => JSON.parse(line) as SpanLine);
        if (until(spans) || i >= 100) return spans;
        await sleep(50);
      }
    }

    /** The span's ancestors, nearest first, within its trace. */
    function ancestors(span: SpanLine, spans: SpanLine[]): SpanLine[] {
      const byId = new Map(spans.map((candidate) => [candidate.spanId, candidate]));
      const chain: SpanLine[] = [];
      for (let parent = byId.get(span.parentSpanId ?? ''); parent; parent = byId.get(parent.parentSpanId ?? '')) chain.push(parent);
      return chain;
    }

    it('a charge through HAProxy is one trace, from the HTTP span to the SQL spans, continuing the caller’s traceparent', async () => {
      const merchant = await admin.createMerchant({ name: 'traced' });
      const payments = new PaymentsClient({ baseUrl: fleet.url, apiKey: merchant.data.api_key! });
      const account = await payments.createAccount({ currency: 'usd' });
      await payments.deposit(account.data.id, { amount: 10_000 });

      const callerSpan = randomUUID().replaceAll('-', '').slice(0, 16);
      const traceId = randomUUID().replaceAll('-', '');
      const idempotencyKey = `order-4242-${randomUUID()}`;
      const charge = await payments.createCharge(
        { amount: 1_250, currency: 'usd', source: account.data.id },
        { idempotencyKey, traceparent: `00-${traceId}-${callerSpan}-01` },
      );
      expect(charge.traceId).toBe(traceId);

      // Spans reach the file as the instance exports them, not in the trace's order: the HTTP span
      // can be there before a span under it. Wait until the trace is whole (or the wait runs out).
      const whole = (found: SpanLine[]) => {
        const root = found.find((span) => span.kind === SERVER_KIND);
        return root !== undefined && found.every((span) => span === root || ancestors(span, found).includes(root));
      };
      const spans = await spansOf(traceId, whole);
      const server = spans.filter((span) => span.kind === SERVER_KIND);
      expect(server[0]?.attributes).toMatchObject({ 'url.path': '/v1/charges', 'http.route': '/v1/charges' });
      expect(server).toHaveLength(1);
      expect(server[0]!.parentSpanId).toBe(callerSpan);
      // One instance answered, and every span of the trace hangs from its HTTP span.
      expect(new Set(spans.map((span) => span.pid)).size).toBe(1);
      for (const span of spans.filter((span) => span !== server[0])) expect(ancestors(span, spans)).toContain(server[0]);

      const named = (name: string) => spans.filter((span) => span.name === name);
      const [idempotency] = named('idempotency');
      expect(idempotency?.attributes).toEqual(
        expect.objectContaining({
          'merchant.id': merchant.data.id,
          'idempotency.outcome': 'new',
          'idempotency.key_hash': expect.stringMatching(/^[0-9a-f]{16}$/),
        }),
      );
      const sql = spans.filter((span) => span.attributes['db.system.name'] === 'postgresql');
      // A new key goes the short way: its opening (BEGIN and the key's lock) travels with the
      // handler's first statement, so the claim has no span of its own (the long way's does).
      expect(named('idempotency.claim')).toHaveLength(0);
      for (const step of ['idempotency.handler', 'idempotency.record']) {
        const [stepSpan] = named(step);
        expect(stepSpan && ancestors(stepSpan, spans)).toContain(idempotency);
        expect(sql.filter((span) => ancestors(span, spans).includes(stepSpan!)).length).toBeGreaterThan(0);
      }
      // A client that puts its API key in the URL: the spans have it masked, as the logs do.
      const leaky = await fetch(`${fleet.url}/v1/balance?api_key=${merchant.data.api_key}`, {
        headers: { authorization: `Bearer ${merchant.data.api_key}`, traceparent: `00-${traceId}-${callerSpan}-01` },
      });
      expect(leaky.status).toBe(200);
      await spansOf(traceId, (found) => found.filter((span) => span.kind === SERVER_KIND).length === 2);
      // Neither the key nor the body in any span, nor the API key.
      const everything = await readFile(traces, 'utf8');
      expect(everything).not.toContain(idempotencyKey);
      expect(everything).not.toContain(merchant.data.api_key);
      expect(everything).not.toContain('"amount":1250'); // the recorded body

      // The instance's log lines of this request carry its request id, trace id and span id.
      const logs = fleet.services
        .flatMap((service) => service.output().split('\n'))
        .filter((line) => line.includes(traceId))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(logs.length).toBeGreaterThan(0);
      for (const line of logs) expect(line).toEqual(expect.objectContaining({ reqId: expect.any(String), spanId: expect.any(String) }));

      // The duplicate: replayed from whichever instance gets it, a span of its own, a log line
      // with the key's hash and age, and the age in the histogram.
      const again = await payments.createCharge(
        { amount: 1_250, currency: 'usd', source: account.data.id },
        { idempotencyKey, traceparent: `00-${randomUUID().replaceAll('-', '')}-${callerSpan}-01` },
      );
      expect(again.replayed).toBe(true);
      const replaySpans = await spansOf(again.traceId, (found) => found.some((span) => span.name === 'idempotency.replay'));
      expect(replaySpans.find((span) => span.name === 'idempotency')?.attributes).toEqual(
        expect.objectContaining({
          'idempotency.outcome': 'replayed',
          'idempotency.key_hash': idempotency!.attributes['idempotency.key_hash'],
        }),
      );
      const duplicateLines = fleet.services
        .flatMap((service) => service.output().split('\n'))
        .filter((line) => line.includes('"duplicate request"'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(duplicateLines).toContainEqual(
        expect.objectContaining({
          context: 'Idempotency',
          merchantId: merchant.data.id,
          keyHash: idempotency!.attributes['idempotency.key_hash'],
          outcome: 'replayed',
          ageSeconds: expect.any(Number),
          traceId: again.traceId,
        }),
      );
      expect(fleet.services.map((service) => service.output()).join('')).not.toContain(idempotencyKey);
      const metrics = await Promise.all(fleet.services.map(async (service) => (await fetch(`${service.url}/metrics`)).text()));
      const observed = metrics.map((text) =>
        Number(/^idempotency_duplicate_age_seconds_count\{outcome="replayed"\} (\d+)/m.exec(text)?.[1] ?? 0),
      );
      expect(observed.reduce((sum, count) => sum + count, 0)).toBeGreaterThanOrEqual(1);
    });

    it('serves every route through PgBouncer in transaction mode, its statements unnamed', async () => {
      const merchant = await admin.createMerchant({ name: 'pooled' });
      const apiKey = merchant.data.api_key!;
      const payments = new PaymentsClient({ baseUrl: fleet.url, apiKey });
      const account = await payments.createAccount({ currency: 'usd', name: 'pooled' });
      await payments.deposit(account.data.id, { amount: 100_000 });
      const upsert = await fetch(`${fleet.url}/v1/accounts/pooled-wallet`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ currency: 'usd', name: 'upserted' }),
      });
      expect(upsert.status).toBe(201);

      const captured = await payments.createCharge({ amount: 500, currency: 'usd', source: account.data.id });
      const authorized = await payments.createCharge({ amount: 700, currency: 'usd', source: account.data.id, capture: false });
      const other = await payments.createCharge({ amount: 300, currency: 'usd', source: account.data.id, capture: false });
      expect((await payments.captureCharge(authorized.data.id, { amount: 600 })).data.status).toBe('succeeded');
      expect((await payments.cancelCharge(other.data.id)).data.status).toBe('canceled');
      expect((await payments.refundCharge(captured.data.id, { amount: 200 })).status).toBe(201);
      const batch = await payments.createChargeBatch([
        { amount: 10, currency: 'usd', source: account.data.id },
        { amount: 20, currency: 'usd', source: account.data.id },
      ]);
      expect(batch.data.results.map((item) => item.status)).toEqual([201, 201]);

      // Many at once, so that the three instances' transactions share PgBouncer's server connections.
      const many = await Promise.all(
        Array.from({ length: 30 }, () => payments.createCharge({ amount: 1, currency: 'usd', source: account.data.id })),
      );
      expect(many.every((result) => result.status === 201)).toBe(true);

      let listed = 0;
      for await (const charge of payments.listCharges({ limit: 10 })) if (charge.id) listed++;
      expect(listed).toBe(35);
      const balance = await payments.getBalance();
      expect(balance.data.available).toEqual([{ currency: 'usd', amount: 500 - 200 + 600 + 30 + 30 }]);
      expect((await payments.getAccount(account.data.id)).data.balance).toBe(100_000 - (500 - 200) - 600 - 30 - 30);
      expect(fleet.unexpectedExits).toEqual([]);
    });

    it('a key revoked through one instance is refused by all three within API_KEY_CACHE_MS (1 s)', async () => {
      const merchant = await admin.createMerchant({ name: 'revoked everywhere' });
      const call = (url: string, method: string, path: string, token: string, body?: unknown) =>
        fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': randomUUID() }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      const created = (await (await call(fleet.url, 'POST', '/v1/api_keys', merchant.data.api_key!, { name: 'leaks soon' })).json()) as {
        id: string;
        secret: string;
      };
      // Every instance has looked the key up and remembers it.
      for (const service of fleet.services) expect((await call(service.url, 'GET', '/v1/balance', created.secret)).status).toBe(200);

      const revoked = await call(fleet.services[0]!.url, 'DELETE', `/v1/api_keys/${created.id}`, merchant.data.api_key!);
      expect(revoked.status).toBe(200);
      await sleep(1_000 + 100);
      for (const service of fleet.services) expect((await call(service.url, 'GET', '/v1/balance', created.secret)).status).toBe(401);
      expect((await call(fleet.url, 'GET', '/v1/balance', created.secret)).status).toBe(401);
    });
  });
}
