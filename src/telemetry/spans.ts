import { SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { createHash } from 'node:crypto';
import { tracing } from './tracing-state.js';

const tracer = trace.getTracer('payments-service');

/**
 * Runs `work` in a span named `name`, child of the active one (the request's), when tracing is on;
 * otherwise just runs it (`attributes` may be a function, so that nothing is computed then). A failure marks the span with the error's class, never its message
 * (which could quote input).
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes | (() => Attributes),
  work: () => Promise<T>,
  kind: SpanKind = SpanKind.INTERNAL,
): Promise<T> {
  if (!tracing.on) return work();
  const values = typeof attributes === 'function' ? attributes() : attributes;
  return tracer.startActiveSpan(name, { attributes: values, kind }, async (span) => {
    try {
      return await work();
    } catch (error) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.name : 'error' });
      throw error;
    } finally {
      span.end();
    }
  });
}

/** inSpan for work that does not wait (a replay writes its recorded answer). */
export function inSyncSpan<T>(name: string, attributes: Attributes, work: () => T): T {
  if (!tracing.on) return work();
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return work();
    } finally {
      span.end();
    }
  });
}

/** Sets attributes on the active span (when tracing is on). */
export function setSpanAttributes(attributes: Attributes): void {
  if (tracing.on) trace.getActiveSpan()?.setAttributes(attributes);
}

/**
 * The trace and span ids of the active span, for log lines; nothing when tracing is off. A new
 * object each time: pino merges the line's own fields into it.
 */
export function activeTraceIds(): { traceId?: string; spanId?: string } {
  if (!tracing.on) return {};
  const span = trace.getActiveSpan();
  if (!span) return {};
  const { traceId, spanId } = span.spanContext();
  return { traceId, spanId };
}

/**
 * What logs and traces say instead of an Idempotency-Key: a short SHA-256 of the merchant and the
 * key. Keys are the client's, and some clients put meaning in them; the hash still tells one
 * key's requests apart and matches across instances.
 */
export function keyHash(merchantId: string, key: string): string {
  return createHash('sha256').update(merchantId).update('\n').update(key).digest('hex').slice(0, 16);
}
