import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { Span } from '@opentelemetry/api';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { core, NodeSDK, tracing } from '@opentelemetry/sdk-node';
import type { IncomingMessage } from 'node:http';
import { appendFileSync } from 'node:fs';
import { maskUrlForLog } from '../common/validators.js';

// Loaded only when tracing is on (start-tracing.ts), before the application: the instrumentations
// hook `require`, and both instrumented libraries are loaded through it — pg by TypeORM's driver,
// node:http by Fastify — so spans come without an ESM loader hook (docs/operations.md).

/** Routes that probes and scrapers call all the time: no traces. */
const UNTRACED_PATHS = ['/health/', '/metrics'];

/** A request's URL as the logs have it (no API keys, secret-named parameters or card-like digits), as span attributes. */
function maskedUrl(url: string): Record<string, string> {
  const [path = '', query] = maskUrlForLog(url).split(/\?(.*)/s, 2);
  return query === undefined ? { 'url.path': path } : { 'url.path': path, 'url.query': query };
}

/** SQL text without its literals: values go as parameters, but no statement's literal is ever recorded either. */
function withoutLiterals(sql: string): string {
  return sql.replace(/(?:\bE)?'(?:[^']|'')*'/g, '?');
}

export function startTracing(env: NodeJS.ProcessEnv): NodeSDK {
  const file = env.OTEL_TRACES_FILE;
  const sdk = new NodeSDK({
    serviceName: env.OTEL_SERVICE_NAME ?? 'payments-service',
    // Without a file, the OTLP exporter that OTEL_EXPORTER_OTLP_* configure (batched).
    ...(file ? { spanProcessors: [new tracing.SimpleSpanProcessor(new JsonLinesFileExporter(file))] } : {}),
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.some((path) => request.url?.startsWith(path) ?? false),
        requestHook: (span: Span, request) => {
          const url = (request as IncomingMessage).url;
          if (url !== undefined) span.setAttributes(maskedUrl(url));
        },
      }),
      // Statement text without literals, never parameter values (enhancedDatabaseReporting stays off).
      new PgInstrumentation({
        requestHook: (span, query) => span.setAttribute('db.query.text', withoutLiterals(query.query.text)),
      }),
      // Fastify publishes its initialisation on a diagnostics channel: the plugin registers itself.
      new FastifyOtelInstrumentation({
        registerOnInitialization: true,
        ignorePaths: (route) => UNTRACED_PATHS.some((path) => route.url.startsWith(path)),
        requestHook: (span, request) => span.setAttributes(maskedUrl(request.url)),
      }),
    ],
  });
  sdk.start();
  return sdk;
}

/**
 * Writes each finished span as a JSON line to a file (OTEL_TRACES_FILE): what the tests read to
 * follow a request from the HTTP span to the SQL spans, across the instances of a fleet.
 */
class JsonLinesFileExporter implements tracing.SpanExporter {
  constructor(private readonly file: string) {}

  export(spans: tracing.ReadableSpan[], done: (result: core.ExportResult) => void): void {
    const lines = spans.map((span) =>
      JSON.stringify({
        traceId: span.spanContext().traceId,
        spanId: span.spanContext().spanId,
        parentSpanId: span.parentSpanContext?.spanId,
        name: span.name,
        kind: span.kind,
        attributes: span.attributes,
        status: span.status,
        service: span.resource.attributes['service.name'],
        pid: process.pid,
      }),
    );
    try {
      // One append per batch: lines of several processes sharing the file never interleave.
      appendFileSync(this.file, lines.map((line) => `${line}\n`).join(''));
      done({ code: core.ExportResultCode.SUCCESS });
    } catch (error) {
      done({ code: core.ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
