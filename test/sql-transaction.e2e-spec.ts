import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { DatabaseUnavailableError } from '../src/common/database-errors.js';
import { ANSWER_TIMEOUT_MS, requestPathClientSettings } from '../src/config/data-source-options.js';
import { OpeningFailedError, Sql, TransactionAbortedError } from '../src/database/sql.js';

/** Sql and SqlTransaction against PostgreSQL: pg's pipeline mode, through its public API only. */
describe('SqlTransaction', () => {
  const table = `sql_transaction_${randomUUID().replaceAll('-', '')}`;
  let sql: Sql;

  const sqlWith = (namedStatements: boolean, poolSize = 2, idleSeconds = 300, answerTimeoutMs = ANSWER_TIMEOUT_MS) =>
    new Sql({
      url: process.env.TEST_DATABASE_URL!,
      poolSize,
      idleSeconds,
      answerTimeoutMs,
      namedStatements,
      clientSettings: requestPathClientSettings(),
    });
  const insert = (value: string) => ({
    name: `${table}_insert`,
    text: `INSERT INTO ${table} (value) VALUES ($1) RETURNING value`,
    values: [value],
  });
  const values = async () =>
    (await sql.query<{ value: string }>({ name: `${table}_values`, text: `SELECT value FROM ${table} ORDER BY value` })).map(
      (row) => row.value,
    );

  beforeAll(async () => {
    sql = sqlWith(true);
    await sql.query({ name: 'create', text: `CREATE TABLE ${table} (value text PRIMARY KEY)` });
  });

  afterAll(async () => {
    await sql.query({ name: 'drop', text: `DROP TABLE ${table}` });
    await sql.close();
  });

  it('sends statements that do not wait for each other in one round trip, and commits them', async () => {
    const before = { ...sql.traffic };
    const tx = await sql.begin();
    try {
      const [a, b] = await Promise.all([tx.query(insert('a')), tx.query(insert('b'))]);
      expect([a, b]).toEqual([[{ value: 'a' }], [{ value: 'b' }]]);
      await tx.commit();
    } finally {
      await tx.end();
    }
    // BEGIN and both inserts; then COMMIT
    expect({ roundTrips: sql.traffic.roundTrips - before.roundTrips, statements: sql.traffic.statements - before.statements }).toEqual({
      roundTrips: 2,
      statements: 4,
    });
    expect(await values()).toEqual(['a', 'b']);
  });

  it('after a failed statement nothing takes effect: what follows fails, and COMMIT (answered ROLLBACK) throws', async () => {
    const tx = await sql.begin();
    try {
      const results = await Promise.allSettled([tx.query(insert('c')), tx.query(insert('a')), tx.query(insert('d'))]);
      expect(results.map((result) => result.status)).toEqual(['fulfilled', 'rejected', 'rejected']);
      await expect(tx.commit()).rejects.toBeInstanceOf(TransactionAbortedError);
    } finally {
      await tx.end();
    }
    expect(await values()).toEqual(['a', 'b']);
  });

  it('sends the last statements with COMMIT: one failing keeps COMMIT from committing anything', async () => {
    const tx = await sql.begin();
    try {
      await tx.query(insert('e'));
      await expect(tx.commit([insert('b')])).rejects.toMatchObject({ code: '23505' });
    } finally {
      await tx.end();
    }
    expect(await values()).toEqual(['a', 'b']);
  });

  it('fails every statement of a transaction whose opening failed with OpeningFailedError, and none takes effect', async () => {
    const tx = await sql.begin({
      before: [{ name: `${table}_count`, text: `SELECT count(*)::int AS n FROM ${table}` }],
      after: [{ name: `${table}_refuse`, text: `SELECT 1 / 0` }],
    });
    try {
      const sent = tx.query(insert('f'));
      await expect(tx.opened).rejects.toMatchObject({ code: '22012' });
      expect(await tx.before).toEqual([[{ n: 2 }]]);
      await expect(sent).rejects.toBeInstanceOf(OpeningFailedError);
      await expect(tx.query(insert('g'))).rejects.toBeInstanceOf(OpeningFailedError);
    } finally {
      await tx.end();
    }
    expect(await values()).toEqual(['a', 'b']);
  });

  it('ends a transaction left open with ROLLBACK: the connection goes back to the pool outside any transaction', async () => {
    const single = sqlWith(true, 1);
    try {
      const tx = await single.begin();
      await tx.query(insert('h'));
      const [{ pid }] = (await tx.query<{ pid: number }>({ name: 'pid', text: 'SELECT pg_backend_pid() AS pid' })) as [{ pid: number }];
      await tx.end();
      const state = await sql.query<{ state: string }>({
        name: 'state_of',
        text: 'SELECT state FROM pg_stat_activity WHERE pid = $1',
        values: [pid],
      });
      expect(state).toEqual([{ state: 'idle' }]);
      expect(await values()).toEqual(['a', 'b']);
    } finally {
      await single.close();
    }
  });

  it('a lost connection is a DatabaseUnavailableError, and the connection is closed, never reused', async () => {
    const single = sqlWith(true, 1);
    try {
      const tx = await single.begin();
      const [{ pid }] = (await tx.query<{ pid: number }>({ name: 'pid', text: 'SELECT pg_backend_pid() AS pid' })) as [{ pid: number }];
      await sql.query({ name: 'terminate', text: 'SELECT pg_terminate_backend($1)', values: [pid] });
      await expect(tx.query(insert('i'))).rejects.toBeInstanceOf(DatabaseUnavailableError);
      await tx.end();
      const [{ pid: next }] = (await single.query<{ pid: number }>({ name: 'pid', text: 'SELECT pg_backend_pid() AS pid' })) as [
        { pid: number },
      ];
      expect(next).not.toBe(pid);
    } finally {
      await single.close();
    }
  });

  it('prepares named statements once per connection, and none at all when statements go unnamed (a pooler)', async () => {
    for (const named of [true, false]) {
      const single = sqlWith(named, 1);
      try {
        await single.query({ name: 'prepared_probe', text: 'SELECT 1 AS one' });
        const prepared = await single.query<{ name: string }>({
          name: 'prepared_list',
          text: `SELECT name FROM pg_prepared_statements WHERE name = 'prepared_probe'`,
        });
        expect(prepared.length).toBe(named ? 1 : 0);
      } finally {
        await single.close();
      }
    }
  });

  // DATABASE_POOL_IDLE_SECONDS (300 by default; pg-pool's own default is 10 s): a connection opened
  // again costs a request a new server process and a parse of each of its statements, so a pool
  // closed by every lull of ten seconds gave the charges after it a tail (docs/scaling.md).
  it('keeps an idle connection for idleSeconds, and for good with 0', async () => {
    const poolOf = async (idleSeconds: number) => {
      const pool = sqlWith(true, 1, idleSeconds);
      await pool.query({ name: 'one', text: 'SELECT 1' });
      await pool.idle();
      return pool;
    };
    const closesSoon = await poolOf(1);
    const keeps = await poolOf(0);
    try {
      // Bounded waits on the closing itself, not a head start: the 1 s pool closes its connection
      // well within 5 s (pg-pool's 10 s default would not), and by then the other has kept its own.
      const deadline = Date.now() + 5_000;
      while (closesSoon.usage().total > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(closesSoon.usage().total).toBe(0);
      expect(keeps.usage().total).toBe(1);
    } finally {
      await closesSoon.close();
      await keeps.close();
    }
  });

  // The client's bound on an answer (answerTimeoutMs) gives up on a server that stopped answering,
  // and closes that connection; but a process that stood still past the bound (a long GC, a frozen
  // VM, SIGSTOP: chaos 15's frozen instance) runs its overdue timers on waking before it reads its
  // sockets, and must first read the answer that came in time. A real SIGSTOP of a process of its
  // own: blocking this thread does not wake the event loop the same way.
  it('gives up on a statement unanswered within answerTimeoutMs, and closes its connection', async () => {
    const single = sqlWith(true, 1, 300, 300);
    try {
      const [{ pid }] = (await single.query<{ pid: number }>({ name: 'pid', text: 'SELECT pg_backend_pid() AS pid' })) as [{ pid: number }];
      await expect(single.query({ name: 'sleep', text: 'SELECT pg_sleep(1)' })).rejects.toBeInstanceOf(DatabaseUnavailableError);
      const [{ pid: next }] = (await single.query<{ pid: number }>({ name: 'pid', text: 'SELECT pg_backend_pid() AS pid' })) as [
        { pid: number },
      ];
      expect(next).not.toBe(pid);
    } finally {
      await single.close();
    }
  });

  it('reads an answer that came while the process was stopped past answerTimeoutMs', async () => {
    const child = spawn(process.execPath, ['dist/testing/statement-across-a-pause.js', process.env.TEST_DATABASE_URL!], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    try {
      expect((await lines.next()).value).toBe('sent');
      child.kill('SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      child.kill('SIGCONT');
      expect(JSON.parse(String((await lines.next()).value))).toEqual({ rows: [{ slept: '' }] });
    } finally {
      child.kill('SIGKILL');
    }
  });
});
