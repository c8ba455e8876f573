import 'reflect-metadata';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { resolveDatabase } from './database/database-url.js';
import { migrate } from './database/migrate.js';
import { createLogger } from './logging/logger.js';

/** Starts the service (main.ts, after tracing): config, database, migrations, listen, SIGTERM. */
export async function serve(telemetry: { shutdown(): Promise<void> } | undefined): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      createLogger('info').fatal({ context: 'Bootstrap' }, `Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const root = createLogger(config.logLevel);
  const logger = root.child({ context: 'Bootstrap' });
  const log = (line: string) => logger.info(line);

  const { url: databaseUrl, embedded } = await resolveDatabase(config.databaseUrl, log);
  const applied = await migrate(databaseUrl);
  if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);

  const app = await createApp(config, databaseUrl, root);
  // SIGTERM: stop accepting, finish in-flight requests, close the pool, stop the embedded database.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: shutting down`);
    await app.close();
    await embedded?.stop();
    await telemetry?.shutdown().catch(() => undefined);
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: '0.0.0.0' });
  log(`listening on http://localhost:${config.port} (API docs: /docs, OpenAPI: /openapi.json)`);
  if (config.adminTokenGenerated) {
    // Printed whatever LOG_LEVEL says: it is the only way to learn the generated token.
    logger.child({}, { level: 'warn' }).warn(`ADMIN_TOKEN was not set; generated for this run: ${config.adminToken}`);
  }
}
