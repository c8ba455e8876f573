/**
 * Whether this process traces: set once at start (start-tracing.ts) before the application is
 * loaded, read on every request. Off, nothing of the OpenTelemetry SDK is loaded and a request
 * pays one check of this flag.
 */
export const tracing = { on: false };

/** Tracing is asked for by an OTLP endpoint, or by a file to write spans to (tests). */
export function tracingRequested(env: NodeJS.ProcessEnv): boolean {
  if (env.OTEL_SDK_DISABLED?.toLowerCase() === 'true') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_FILE);
}
