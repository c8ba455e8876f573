import type { Pool, PoolClient } from 'pg';
import type { DataSource } from 'typeorm';
import { sqlState } from '../common/database-errors.js';

/**
 * Keeps a connection the server ends (pg_terminate_backend, a restart or failover, an idle-session
 * timeout, a pooler restart) from ending the process.
 *
 * pg emits 'error' on the client of such a connection, and an 'error' event nobody listens to
 * crashes Node. pg-pool listens only while a client sits idle in the pool, TypeORM only while a
 * query runner holds it — and TypeORM stops listening as soon as it hands the client back with
 * the first error, while pg can emit a second one (the socket closing). So every client gets a
 * listener of its own for its whole life. The request that was using the connection learns of the
 * loss from its failed statement (503); the pool drops the client and opens a new one next time.
 */
export function surviveLostConnections(dataSource: DataSource, onLost: (sqlState: string | undefined) => void): void {
  const pool = (dataSource.driver as unknown as { master: Pool }).master;
  const listening = new WeakSet<PoolClient>();
  const listen = (client: PoolClient) => {
    if (listening.has(client)) return;
    listening.add(client);
    client.on('error', (error: unknown) => onLost(sqlState(error)));
  };
  // 'connect' for every new client; 'acquire' also reaches the one TypeORM opened before this ran.
  pool.on('connect', listen);
  pool.on('acquire', listen);
}
