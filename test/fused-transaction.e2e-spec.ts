import { randomUUID } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import type { PoolClient } from 'pg';
import { DataSource } from 'typeorm';
import { runPipeline, failedStatementIndex } from '../src/database/pipeline.js';
import { runFusedTransaction } from '../src/database/transaction.js';
import { dataSourceOptions } from '../src/config/data-source-options.js';
import { sqlState } from '../src/common/database-errors.js';
import { IdempotencyRepository } from '../src/idempotency/idempotency.repository.js';

/**
 * The round trips of the hot path (database/pipeline.ts, database/transaction.ts) against a real
 * PostgreSQL: several statements, one Sync; the first failure stops the rest, COMMIT included; the
 * opening of a transaction travels with its first statement, whoever sends it; and the database
 * function that opens a new idempotency key refuses one in flight or recorded.
 */
describe('fused transactions: several statements a round trip, and a failure stops the rest', () => {
  let dataSource: DataSource;
  const table = `pipeline_test_${process.pid}`;

  beforeAll(async () => {
    dataSource = await new DataSource(dataSourceOptions(process.env.TEST_DATABASE_URL!, 4)).initialize();
    await dataSource.query(`CREATE TABLE ${table} (id text PRIMARY KEY, n bigint NOT NULL)`);
  });

  afterAll(async () => {
    await dataSource.query(`DROP TABLE IF EXISTS ${table}`);
    await dataSource.destroy();
  });

  /** Runs `work` with a pooled connection of its own, rolled back and released afterwards. */
  async function withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const runner = dataSource.createQueryRunner();
    try {
      return await work((await runner.connect()) as PoolClient);
    } finally {
      await runner.query('ROLLBACK').catch(() => undefined);
      await runner.release();
    }
  }

  /**
   * Runs `work` with a pool of one connection (so a second transaction gets the very connection
   * the first one used) through a proxy that delivers the server's answers one message a read, as
   * a busy network does: pg then reports a failed statement before it has read the ReadyForQuery
   * behind it.
   */
  async function withMessageByMessageConnection<T>(work: (single: DataSource) => Promise<T>): Promise<T> {
    const proxy = await messageByMessageProxy(process.env.TEST_DATABASE_URL!);
    const single = await new DataSource(dataSourceOptions(proxy.url, 1)).initialize();
    try {
      return await work(single);
    } finally {
      await single.destroy();
      await proxy.close();
    }
  }

  const count = async (id: string) => Number((await dataSource.query(`SELECT count(*)::int AS n FROM ${table} WHERE id = $1`, [id]))[0].n);

  it('answers every statement in order, with parameters and parsed types, and prepares a name once', async () => {
    await withClient(async (client) => {
      const name = `pipeline_test_select_${process.pid}`;
      for (let round = 0; round < 2; round++) {
        const results = await runPipeline(client, [
          { text: 'SELECT $1::bigint AS big, $2::text AS word', values: [9_007_199_254_740_993n, 'a'] },
          { name, text: 'SELECT $1::int + 1 AS next, now() AS at', values: [41] },
          { text: 'SELECT 1 WHERE false' },
        ]);
        expect(results.map((result) => result.rows)).toEqual([
          [{ big: '9007199254740993', word: 'a' }],
          [{ next: 42, at: expect.any(Date) }],
          [],
        ]);
      }
      // The second round reused the statement the first one prepared on this connection.
      const prepared = await client.query('SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name = $1', [name]);
      expect(prepared.rows[0].n).toBe(1);
    });
  });

  it('stops at the first failure: what follows, COMMIT included, never takes effect', async () => {
    const [before, after] = [randomUUID(), randomUUID()];
    // pg reports the error before the ReadyForQuery that ends the round trip, so the transaction
    // status it knows then is the one from before BEGIN. Ask the server instead.
    await withMessageByMessageConnection(async (single) => {
      const runner = single.createQueryRunner();
      try {
        const client = (await runner.connect()) as PoolClient;
        const failure = await runPipeline(client, [
          { text: 'BEGIN' },
          { text: `INSERT INTO ${table} (id, n) VALUES ($1, 1)`, values: [before] },
          { text: 'SELECT 1 / $1::int', values: [0] },
          { text: `INSERT INTO ${table} (id, n) VALUES ($1, 2)`, values: [after] },
          { text: 'COMMIT' },
        ]).catch((error: unknown) => error);
        expect(sqlState(failure)).toBe('22012');
        expect(failedStatementIndex(failure)).toBe(2);
        // The transaction is open and aborted, not committed: the next statement is refused with
        // 25P02 (in_failed_sql_transaction), and its caller rolls it back.
        const next = await client.query('SELECT 1').catch((error: unknown) => error);
        expect(sqlState(next)).toBe('25P02');
        expect(client.getTransactionStatus()).toBe('E');
        await client.query('ROLLBACK');
        // The connection goes on as usual.
        expect((await client.query('SELECT 7 AS seven')).rows).toEqual([{ seven: 7 }]);
      } finally {
        await runner.release();
      }
    });
    expect(await count(before)).toBe(0);
    expect(await count(after)).toBe(0);
  });

  it('does not count a named statement as prepared when the server refused it', async () => {
    await withClient(async (client) => {
      const name = `pipeline_test_broken_${process.pid}`;
      const refused = await runPipeline(client, [{ name, text: 'SELEC 1' }]).catch((error: unknown) => error);
      expect(sqlState(refused)).toBe('42601');
      // Had it counted as prepared, pg would now bind a statement the server never made (26000).
      const again = await runPipeline(client, [{ name, text: 'SELEC 1' }]).catch((error: unknown) => error);
      expect(sqlState(again)).toBe('42601');
    });
  });

  it('sends the opening with the first statement, whoever sends it, and commits it all together', async () => {
    const id = randomUUID();
    const seen = await runFusedTransaction(dataSource, async (transaction) => {
      transaction.openWith([{ text: 'BEGIN' }, { text: `SELECT set_config('payments.opened', $1, true)`, values: [id] }]);
      expect(transaction.opening()).toEqual({ state: 'pending' });
      // TypeORM's own query, as a repository sends it: it carries the opening along.
      const [row] = await transaction.manager.query<{ opened: string }[]>(`SELECT current_setting('payments.opened') AS opened`);
      expect(transaction.opening()).toEqual({ state: 'done' });
      await transaction.pipeline([{ text: `INSERT INTO ${table} (id, n) VALUES ($1, 1)`, values: [id] }, { text: 'COMMIT' }]);
      return row!.opened;
    });
    // The setting was local to the transaction that the opening's BEGIN started.
    expect(seen).toBe(id);
    expect(await count(id)).toBe(1);
  });

  it('takes a pending opening along with the last round trip when nothing else was sent', async () => {
    const id = randomUUID();
    await runFusedTransaction(dataSource, async (transaction) => {
      transaction.openWith([{ text: 'BEGIN' }, { text: 'SELECT 1 / $1::int', values: [0] }]);
      const failure = await transaction
        .pipeline([{ text: `INSERT INTO ${table} (id, n) VALUES ($1, 1)`, values: [id] }, { text: 'COMMIT' }])
        .catch((error: unknown) => error);
      expect(sqlState(failure)).toBe('22012');
      const opening = transaction.opening();
      expect(opening.state).toBe('failed');
    });
    expect(await count(id)).toBe(0);
  });

  it('refuses through the opening what follows it: the handler statement of a refused key never runs', async () => {
    const id = randomUUID();
    const outcome = await runFusedTransaction(dataSource, async (transaction) => {
      transaction.openWith([{ text: 'BEGIN' }, { text: 'SELECT 1 / $1::int', values: [0] }]);
      const failure = await transaction.manager.query(`INSERT INTO ${table} (id, n) VALUES ($1, 1)`, [id]).catch((error: unknown) => error);
      return { failure, opening: transaction.opening() };
    });
    expect(outcome.opening.state).toBe('failed');
    expect(sqlState(outcome.failure)).toBe('22012');
    expect(await count(id)).toBe(0);
  });

  it('puts a connection back into the pool outside any transaction after a failed round trip', async () => {
    // The work takes the key's refusal as an answer, as the interceptor does, and returns normally.
    await withMessageByMessageConnection(async (single) => {
      const refused = await runFusedTransaction(single, async (transaction) => {
        transaction.openWith([{ text: 'BEGIN' }, { text: 'SELECT 1 / $1::int', values: [0] }]);
        return transaction.manager.query('SELECT 1').then(
          () => 'ran',
          () => 'refused',
        );
      });
      expect(refused).toBe('refused');
      const next = await runFusedTransaction(single, async (transaction) => {
        transaction.openWith([{ text: 'BEGIN' }]);
        const rows = await transaction.manager.query<{ two: number }[]>('SELECT 2 AS two');
        await transaction.pipeline([{ text: 'COMMIT' }]);
        return rows;
      });
      expect(next).toEqual([{ two: 2 }]);
    });
  });

  describe('idempotency_open_key', () => {
    const merchant = `mer_open_key_${process.pid}`;
    const open = (client: PoolClient, key: string) =>
      runPipeline(client, [{ text: 'BEGIN' }, { text: 'SELECT idempotency_open_key($1, $2)', values: [merchant, key] }]).then(
        () => 'opened',
        (error: unknown) => sqlState(error),
      );

    beforeAll(async () => {
      await dataSource.query(`INSERT INTO merchants (id, name) VALUES ($1, 'open key') ON CONFLICT DO NOTHING`, [merchant]);
    });

    const insertRecord = (key: string, expiresIn: string) =>
      dataSource.query(
        `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, expires_at)
         VALUES ($1, $2, 'f', 201, '{}', now() + $3::interval)`,
        [merchant, key, expiresIn],
      );
    const recordsOf = async (client: PoolClient, key: string) =>
      (await client.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, [merchant, key])).rows[0]
        .n as number;

    it("the long way's lookup also removes an expired record, once it holds the key's lock", async () => {
      const repository = new IdempotencyRepository(dataSource);
      const [expired, live, held] = [randomUUID(), randomUUID(), randomUUID()];
      await insertRecord(expired, '-1 second');
      await insertRecord(live, '1 day');
      await insertRecord(held, '-1 second');
      await dataSource.transaction(async (manager) => {
        expect(await repository.lockAndFind(manager, merchant, expired)).toEqual({ locked: true, stored: undefined });
        expect(await repository.lockAndFind(manager, merchant, live)).toMatchObject({ locked: true, stored: { fingerprint: 'f' } });
        const client = (manager.queryRunner as unknown as { databaseConnection: PoolClient }).databaseConnection;
        expect(await recordsOf(client, expired)).toBe(0);
        expect(await recordsOf(client, live)).toBe(1);
      });
      // Another transaction holds the key: the lookup leaves its record alone.
      await withClient(async (holder) => {
        expect(await open(holder, randomUUID())).toBe('opened');
        await holder.query(`SELECT pg_advisory_xact_lock(hashtextextended($1 || chr(10) || $2, 0))`, [merchant, held]);
        await dataSource.transaction(async (manager) => {
          expect(await repository.lockAndFind(manager, merchant, held)).toEqual({ locked: false, stored: undefined });
        });
      });
      expect(Number((await dataSource.query(`SELECT count(*)::int AS n FROM idempotency_keys WHERE key = $1`, [held]))[0].n)).toBe(1);
    });

    it('opens a new key, and an expired one, whose record it removes so that the new record can be inserted', async () => {
      const expired = randomUUID();
      await insertRecord(expired, '-1 second');
      await withClient(async (client) => expect(await open(client, randomUUID())).toBe('opened'));
      await withClient(async (client) => {
        expect(await open(client, expired)).toBe('opened');
        expect(await recordsOf(client, expired)).toBe(0);
      });
    });

    it('refuses a key with a live record or a claim (IK409)', async () => {
      const [recorded, claimed] = [randomUUID(), randomUUID()];
      await dataSource.query(
        `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, expires_at)
         VALUES ($1, $2, 'f', 201, '{}', now() + interval '1 day'), ($1, $3, 'f', NULL, NULL, now() + interval '1 day')`,
        [merchant, recorded, claimed],
      );
      await withClient(async (client) => expect(await open(client, recorded)).toBe('IK409'));
      await withClient(async (client) => expect(await open(client, claimed)).toBe('IK409'));
    });

    it('refuses a key that another transaction holds, and opens it once that one ends', async () => {
      const key = randomUUID();
      await withClient(async (holder) => {
        expect(await open(holder, key)).toBe('opened');
        await withClient(async (other) => expect(await open(other, key)).toBe('IK409'));
        await holder.query('ROLLBACK');
        await withClient(async (other) => expect(await open(other, key)).toBe('opened'));
      });
    });
  });
});

/**
 * A proxy to PostgreSQL that hands the client each message of the server in a read of its own, a
 * 20 ms apart (every server message is a type byte and a 4-byte length).
 */
async function messageByMessageProxy(databaseUrl: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(databaseUrl);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    let pending = Buffer.alloc(0);
    const queue: Buffer[] = [];
    let pumping = false;
    const pump = () => {
      const message = queue.shift();
      if (!message) {
        pumping = false;
        return;
      }
      client.write(message);
      setTimeout(pump, 20);
    };
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 1 + pending.readUInt32BE(1)) {
        const size = 1 + pending.readUInt32BE(1);
        queue.push(pending.subarray(0, size));
        pending = pending.subarray(size);
      }
      if (!pumping) {
        pumping = true;
        pump();
      }
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.hostname = '127.0.0.1';
  url.port = String((server.address() as { port: number }).port);
  return {
    url: url.toString(),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
