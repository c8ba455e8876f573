import 'reflect-metadata';
import { createApp } from './app.setup.js';
import { runCli } from './common/run-cli.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { migrate } from './database/migrate.js';
import { createLogger } from './logging/logger.js';

// npm run completer: the completer (card-charges/completer.service.ts) as a process of its own,
// beside the service instances, against their database (DATABASE_URL: an embedded database of its
// own would hold none of their keys). It listens on no port; SIGTERM ends it after the run in hand.

async function main(): Promise<void> {
  const config = { ...loadConfig(), completerEnabled: true };
  if (config.databaseUrl === undefined)
    throw new ConfigError('npm run completer needs DATABASE_URL: the database of the service it completes');
  const logger = createLogger(config.logLevel).child({ context: 'Completer' });
  await migrate(config.databaseUrl);
  const app = await createApp(config, config.databaseUrl);
  await app.init();
  logger.info(`completing unfinished card charge keys every ${config.completerIntervalMs} ms (grace ${config.completerGraceSeconds} s)`);
  await new Promise<void>((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  await app.close();
}

runCli(main);
