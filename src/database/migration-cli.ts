import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../config/data-source-options.js';
import { resolveDatabase } from './database-url.js';
import { migrateDatabase } from './migrate.js';
import { runCli } from '../common/run-cli.js';

// npm run migration:run | migration:revert | migration:show — against DATABASE_URL, or the
// embedded database under .data/pg. Migrations are written by hand (migrations/), not generated.

async function main(command: string | undefined): Promise<void> {
  const { url, embedded } = await resolveDatabase(process.env.DATABASE_URL || undefined, (line) => console.log(line));
  const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
  try {
    if (command === 'run') {
      const applied = await migrateDatabase(dataSource);
      console.log(applied.length ? `applied: ${applied.join(', ')}` : 'nothing to apply');
    } else if (command === 'revert') {
      await dataSource.undoLastMigration({ transaction: 'each' });
      console.log('reverted the last migration');
    } else if (command === 'show') {
      const pending = await dataSource.showMigrations();
      console.log(pending ? 'there are pending migrations' : 'all migrations are applied');
    } else {
      throw new Error('usage: migration-cli run | revert | show');
    }
  } finally {
    await dataSource.destroy();
    await embedded?.stop();
  }
}

runCli(() => main(process.argv[2]));
