import { boundHeapGrowth } from './memory-bounds.js';
import { startTracingIfRequested } from './telemetry/start-tracing.js';

// The entry point. Tracing (OTEL_EXPORTER_OTLP_ENDPOINT) must start before the application's
// modules are loaded, since its instrumentations patch pg and node:http as they are first
// required; so the application is imported only after it (server.ts). Without tracing, nothing of
// the OpenTelemetry SDK is loaded.
boundHeapGrowth();
const telemetry = await startTracingIfRequested(process.env);
const { serve } = await import('./server.js');
await serve(telemetry);
