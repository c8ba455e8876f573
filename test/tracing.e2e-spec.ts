import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';
import { startTracingIfRequested } from '../src/telemetry/start-tracing.js';
import { tracing, tracingRequested } from '../src/telemetry/tracing-state.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { spawnService, waitUntilReady } from '../testing/service-process.js';

// Tracing is off unless asked for, and then exported over OTLP (HTTP, protobuf) to
// OTEL_EXPORTER_OTLP_ENDPOINT: here a collector of the test's own that keeps what it receives.
// Following one request through the fleet, span by span, is test/fleet.e2e-spec.ts.

const ADMIN = 'tracing-admin-token-0123456789';

/** A span as OTEL_TRACES_FILE has it (src/telemetry/sdk.ts). */
interface SpanLine {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

const CLIENT_KIND = 2; // SpanKind.CLIENT

describe('tracing', () => {
  it('is off without an OTLP endpoint (or a traces file): nothing is started', async () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(await startTracingIfRequested({})).toBeUndefined();
    expect(tracing.on).toBe(false);
  });

  it('exports the spans of a request over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, continuing its traceparent', async () => {
    const received: { path: string; contentType: string | undefined; body: Buffer }[] = [];
    const collector: Server = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        received.push({ path: request.url ?? '', contentType: request.headers['content-type'], body: Buffer.concat(chunks) });
        response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    const collectorPort = await freePort();
    await new Promise<void>((resolve) => collector.listen(collectorPort, '127.0.0.1', resolve));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = spawnService({
      PORT: String(port),
      DATABASE_URL: process.env.TEST_DATABASE_URL!,
      ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'error',
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    try {
      if (!(await waitUntilReady(base, service.child))) throw new Error(`not ready: ${service.output()}`);
      const traceId = randomBytes(16).toString('hex');
      const answer = await fetch(`${base}/v1/balance`, {
        headers: { authorization: 'Bearer sk_mer_unknown.secret', traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01` },
      });
      expect(answer.status).toBe(401);
      for (let i = 0; i < 100 && !received.some((export_) => export_.body.includes(Buffer.from(traceId, 'hex'))); i++) await sleep(50);
      const exported = received.filter((export_) => export_.body.includes(Buffer.from(traceId, 'hex')));
      expect(exported.length).toBeGreaterThan(0);
      expect(exported[0]).toMatchObject({ path: '/v1/traces', contentType: 'application/x-protobuf' });
    } finally {
      service.child.kill('SIGKILL');
      await service.exited;
      await new Promise((resolve) => collector.close(resolve));
    }
  });
  it("a card charge's phases are spans: the claim, the acquirer's call, an undecided answer; the resumed retry's call and finish; a replay", async () => {
    const acquirer = await AcquirerProcess.start();
    const folder = await mkdtemp(path.join(tmpdir(), 'card-traces-'));
    const traces = path.join(folder, 'spans.jsonl');
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const service = spawnService({
      PORT: String(port),
      DATABASE_URL: process.env.TEST_DATABASE_URL!,
      ADMIN_TOKEN: ADMIN,
      LOG_LEVEL: 'error',
      ACQUIRER_URL: acquirer.url,
      OTEL_TRACES_FILE: traces,
      OTEL_BSP_SCHEDULE_DELAY: '100',
    });
    const spansOf = async (traceId: string, until: (spans: SpanLine[]) => boolean): Promise<SpanLine[]> => {
      for (let i = 0; ; i++) {
        const spans = (await readFile(traces, 'utf8').catch(() => ''))
          .split('\n')
          .filter((line) => line.includes(traceId))
          .map((line) => JSON.parse(line) as SpanLine);
        if (until(spans) || i >= 100) return spans;
        await sleep(50);
      }
    };
    try {
      if (!(await waitUntilReady(base, service.child))) throw new Error(`not ready: ${service.output()}`);
      const merchant = (await (
        await fetch(`${base}/v1/merchants`, {
          method: 'POST',
          headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ name: 'traced cards' }),
        })
      ).json()) as { id: string; api_key: string };
      const key = randomUUID();
      const charge = (traceId: string) =>
        fetch(`${base}/v1/charges`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${merchant.api_key}`,
            'content-type': 'application/json',
            'idempotency-key': key,
            traceparent: `00-${traceId}-${randomBytes(8).toString('hex')}-01`,
          },
          body: JSON.stringify({ amount: 700, currency: 'usd', payment_method: 'pm_test_lost_answer_once' }),
        });
      /** The trace's card_charge span and its steps: every step a descendant of it. */
      const traced = async (traceId: string, last: string) => {
        const spans = await spansOf(
          traceId,
          (found) => found.some((span) => span.name === 'card_charge') && found.some((span) => span.name === last),
        );
        const root = spans.find((span) => span.name === 'card_charge')!;
        const byId = new Map(spans.map((span) => [span.spanId, span]));
        const under = (span: SpanLine) => {
          for (let parent = byId.get(span.parentSpanId ?? ''); parent; parent = byId.get(parent.parentSpanId ?? ''))
            if (parent === root) return true;
          return false;
        };
        const steps = spans.filter((span) => span.name.startsWith('card_charge.'));
        for (const step of steps) expect(under(step)).toBe(true);
        const sqlUnder = (name: string) =>
          spans
            .filter((span) => span.attributes['db.system.name'] === 'postgresql' && under(span))
            .some((span) => {
              for (let parent = byId.get(span.parentSpanId ?? ''); parent; parent = byId.get(parent.parentSpanId ?? ''))
                if (parent.name === name) return true;
              return false;
            });
        return { root, steps, named: (name: string) => steps.find((span) => span.name === name), sqlUnder };
      };

      // The acquirer captures and loses its answer: 202, the attempt counted.
      const first = randomBytes(16).toString('hex');
      expect((await charge(first)).status).toBe(202);
      const lost = await traced(first, 'card_charge.undecided');
      expect(lost.root.attributes).toEqual(
        expect.objectContaining({
          'merchant.id': merchant.id,
          'idempotency.key_hash': expect.stringMatching(/^[0-9a-f]{16}$/),
          'idempotency.outcome': 'new',
          'card_charge.answer_status': 202,
        }),
      );
      expect(lost.steps.map((span) => span.name)).toEqual([
        'card_charge.claim',
        'card_charge.calling',
        'card_charge.acquirer',
        'card_charge.undecided',
      ]);
      expect(lost.named('card_charge.acquirer')).toMatchObject({ kind: CLIENT_KIND, attributes: { 'acquirer.outcome': 'network' } });
      for (const step of ['card_charge.claim', 'card_charge.calling', 'card_charge.undecided']) expect(lost.sqlUnder(step)).toBe(true);

      // The retry's claim finds the key's record and resumes it at acquirer_called: the acquirer
      // replays its capture, tx3 finishes it.
      const second = randomBytes(16).toString('hex');
      expect((await charge(second)).status).toBe(201);
      const resumed = await traced(second, 'card_charge.finish');
      expect(resumed.root.attributes).toEqual(
        expect.objectContaining({
          'idempotency.outcome': 'resumed',
          'card_charge.recovery_point': 'acquirer_called',
          'card_charge.answer_status': 201,
        }),
      );
      expect(resumed.steps.map((span) => span.name)).toEqual([
        'card_charge.claim',
        'card_charge.calling',
        'card_charge.acquirer',
        'card_charge.finish',
      ]);
      expect(resumed.named('card_charge.acquirer')?.attributes).toMatchObject({ 'acquirer.outcome': 'captured' });
      expect(resumed.named('card_charge.finish')?.attributes).toMatchObject({ 'card_charge.outcome': 'captured' });
      expect(resumed.sqlUnder('card_charge.finish')).toBe(true);

      // A repeat after finished: the claim finds the recorded answer, which is replayed; nothing else.
      const third = randomBytes(16).toString('hex');
      expect((await charge(third)).status).toBe(201);
      const replayed = await traced(third, 'card_charge');
      expect(replayed.root.attributes).toEqual(
        expect.objectContaining({ 'idempotency.outcome': 'replayed', 'card_charge.replayed': true }),
      );
      expect(replayed.steps.map((span) => span.name)).toEqual(['card_charge.claim']);
      expect(await readFile(traces, 'utf8')).not.toContain(key);
    } finally {
      service.child.kill('SIGKILL');
      await service.exited;
      await acquirer.close();
      await rm(folder, { recursive: true, force: true });
    }
  });
});
