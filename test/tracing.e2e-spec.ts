import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../src/common/free-port.js';
import { startTracingIfRequested } from '../src/telemetry/start-tracing.js';
import { tracing, tracingRequested } from '../src/telemetry/tracing-state.js';
import { spawnService, waitUntilReady } from '../testing/service-process.js';

// Tracing is off unless asked for, and then exported over OTLP (HTTP, protobuf) to
// OTEL_EXPORTER_OTLP_ENDPOINT: here a collector of the test's own that keeps what it receives.
// Following one request through the fleet, span by span, is test/fleet.e2e-spec.ts.

const ADMIN = 'tracing-admin-token-0123456789';

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
});
