import 'reflect-metadata';
import { ConsoleLogger } from '@nestjs/common';
import { createApp, NEST_LEVELS } from './app.setup.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { resolveDatabase } from './database/database-url.js';
import { migrate } from './database/migrate.js';

async function bootstrap(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Invalid configuration: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
  const logger = new ConsoleLogger('Bootstrap', { json: true, logLevels: NEST_LEVELS[config.logLevel] });

  const { url: databaseUrl, embedded } = await resolveDatabase(config.databaseUrl, (line) => logger.log(line));
  const applied = await migrate(databaseUrl);
  if (applied.length > 0) logger.log(`applied migrations: ${applied.join(', ')}`);

  const app = await createApp(config, databaseUrl);
  // SIGTERM: stop accepting, finish in-flight requests, close the pool, stop the embedded database.
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.log(`${signal}: shutting down`);
    await app.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: '0.0.0.0' });
  logger.log(`listening on http://localhost:${config.port} (API docs: /docs, OpenAPI: /openapi.json)`);
  if (config.adminTokenGenerated) {
    // Printed whatever LOG_LEVEL says: it is the only way to learn the generated token.
    new ConsoleLogger('Bootstrap', { json: true }).warn(`ADMIN_TOKEN was not set; generated for this run: ${config.adminToken}`);
  }
}

void bootstrap();
