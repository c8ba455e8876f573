import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';

export interface ResolvedDatabase {
  url: string;
  /** Set when the database is the embedded one this process started (stop it on the way out). */
  embedded: EmbeddedDatabase | undefined;
}

/** DATABASE_URL when given, else the embedded PostgreSQL kept under .data/pg. */
export async function resolveDatabase(databaseUrl: string | undefined, log: (line: string) => void): Promise<ResolvedDatabase> {
  if (databaseUrl) return { url: databaseUrl, embedded: undefined };
  const embedded = await startEmbeddedPostgres({ dataDir: '.data/pg', database: 'payments', log });
  return { url: embedded.url, embedded };
}
