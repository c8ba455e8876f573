import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { createApp } from './app.setup.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { dataSourceOptions } from './config/data-source-options.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './database/embedded-postgres.js';
import { migrateDatabase } from './database/migrate.js';
import { DataSource } from 'typeorm';

async function bootstrap(): Promise<void> {
  const logger = new Logger('Bootstrap', { timestamp: true });
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

  let embedded: EmbeddedDatabase | undefined;
  if (!config.databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: '.data/pg', database: 'payments', log: (line) => logger.log(line) });
  }
  const databaseUrl = config.databaseUrl ?? embedded!.url;

  const migrator = await new DataSource(dataSourceOptions(databaseUrl, 2)).initialize();
  const applied = await migrateDatabase(migrator).finally(() => migrator.destroy());
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
    logger.warn(`ADMIN_TOKEN was not set; generated for this run: ${config.adminToken}`);
  }
}

void bootstrap();
