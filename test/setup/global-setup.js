// Jest loads its global setup outside the module system that compiles the TypeScript tests, so this
// file is plain JavaScript and uses the compiled service (npm test builds it first).
import { rmSync } from 'node:fs';
import { startEmbeddedPostgres } from '../../dist/src/database/embedded-postgres.js';
import { migrate } from '../../dist/src/database/migrate.js';

/**
 * Starts the database once for the whole run: an embedded PostgreSQL with a fresh database, or
 * the server of DATABASE_URL (whose database name must contain "test": the suite writes to it).
 * Test files reach it through TEST_DATABASE_URL; each makes its own merchants, so they run in
 * parallel safely.
 */
export default async function globalSetup() {
  // Counts of responses checked against openapi.json, written per test file, added up at teardown.
  rmSync('.data/openapi-response-counts', { recursive: true, force: true });
  let url = process.env.DATABASE_URL;
  if (url) {
    const database = new URL(url).pathname.slice(1);
    if (!database.includes('test')) {
      throw new Error(`Refusing to run the tests against "${database}": use a database whose name contains "test".`);
    }
  } else {
    globalThis.embeddedTestDatabase = await startEmbeddedPostgres({
      dataDir: '.data/test-pg',
      database: 'payments_test',
      recreateDatabase: true,
    });
    url = globalThis.embeddedTestDatabase.url;
  }
  await migrate(url);
  process.env.TEST_DATABASE_URL = url;
}
