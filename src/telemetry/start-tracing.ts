import { tracing, tracingRequested } from './tracing-state.js';

/**
 * Starts the OpenTelemetry SDK when the environment asks for it (tracing-state.ts), and only then
 * loads it. Must run before the application's modules are loaded: the instrumentations patch
 * `pg` and `node:http` as they are first required (main.ts imports the application after this).
 */
export async function startTracingIfRequested(env: NodeJS.ProcessEnv): Promise<{ shutdown(): Promise<void> } | undefined> {
  if (!tracingRequested(env)) return undefined;
  const { startTracing } = await import('./sdk.js');
  const sdk = startTracing(env);
  tracing.on = true;
  return sdk;
}
