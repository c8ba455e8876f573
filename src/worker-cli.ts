import 'reflect-metadata';
import { createApp } from './app.setup.js';
import { runCli } from './common/run-cli.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { migrate } from './database/migrate.js';
import { createLogger } from './logging/logger.js';

// npm run worker: the webhook delivery worker (webhooks/delivery-worker.service.ts) as a process of
// its own, beside the service instances, against their database (DATABASE_URL). Any number may run.
// It listens on no port; SIGTERM ends it once the attempts in hand are sent and recorded.

async function main(): Promise<void> {
  const config = { ...loadConfig(), webhookWorkerEnabled: true };
  if (config.databaseUrl === undefined)
    throw new ConfigError('npm run worker needs DATABASE_URL: the database of the service it delivers for');
  const logger = createLogger(config.logLevel).child({ context: 'WebhookWorker' });
  await migrate(config.databaseUrl);
  const app = await createApp(config, config.databaseUrl);
  await app.init();
  logger.info(`delivering webhooks: ${config.webhookConcurrency} at once, polling every ${config.webhookPollIntervalMs} ms`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await app.close();
}

runCli(main);
