import { parseFaults, type FaultConfig } from './faults.js';

export interface AcquirerConfig {
  host: string;
  port: number;
  dataDir: string;
  faults: FaultConfig;
  keyTtlSeconds: number;
}

/** The acquirer's settings from its environment; throws naming the variable that is wrong. */
export function readConfig(env: NodeJS.ProcessEnv): AcquirerConfig {
  const port = Number(env.ACQUIRER_PORT ?? '4100');
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`ACQUIRER_PORT must be a port number, not "${env.ACQUIRER_PORT}"`);
  const keyTtlSeconds = Number(env.ACQUIRER_KEY_TTL_SECONDS ?? '86400');
  if (!Number.isInteger(keyTtlSeconds) || keyTtlSeconds < 1)
    throw new Error(`ACQUIRER_KEY_TTL_SECONDS must be a whole number of seconds, not "${env.ACQUIRER_KEY_TTL_SECONDS}"`);
  let faults: FaultConfig;
  try {
    faults = parseFaults(env.ACQUIRER_FAULTS ?? '');
  } catch (error) {
    throw new Error(`ACQUIRER_FAULTS: ${error instanceof Error ? error.message : String(error)}`);
  }
  return {
    host: env.ACQUIRER_HOST || '127.0.0.1',
    port,
    dataDir: env.ACQUIRER_DATA_DIR || '.data/acquirer',
    faults,
    keyTtlSeconds,
  };
}
