import 'reflect-metadata';
import { writeFile } from 'node:fs/promises';
import { buildOpenApiDocument, createApp } from './app.setup.js';
import { runCli } from './common/run-cli.js';
import { loadConfig } from './config/app-config.js';
import { resolveDatabase } from './database/database-url.js';
import { migrate } from './database/migrate.js';

// npm run openapi: writes the document the service serves at /openapi.json to ./openapi.json
// (or the path given), built from the same code, for client generators and reviews.

async function main(target = 'openapi.json'): Promise<void> {
  const config = { ...loadConfig(), logLevel: 'error' as const };
  const { url, embedded } = await resolveDatabase(config.databaseUrl, () => undefined);
  await migrate(url);
  const app = await createApp(config, url);
  try {
    await app.init();
    await writeFile(target, JSON.stringify(buildOpenApiDocument(app), null, 2) + '\n');
    console.log(`wrote ${target}`);
  } finally {
    await app.close();
    await embedded?.stop();
  }
}

runCli(() => main(process.argv[2]));
