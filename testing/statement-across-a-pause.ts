import { requestPathClientSettings } from '../src/config/data-source-options.js';
import { Sql } from '../src/database/sql.js';

// A process of its own for test/sql-transaction.e2e-spec.ts: it sends one statement whose answer
// takes 100 ms, says "sent", and prints what the statement came to as a line of JSON. The test
// stops this process (SIGSTOP) past the answer bound (300 ms) while the answer comes in, then wakes
// it: a process that stood still (a long GC, a frozen VM) must still read an answer that came in time.
//
// node dist/testing/statement-across-a-pause.js <database url>

const sql = new Sql({
  url: process.argv[2]!,
  poolSize: 1,
  idleSeconds: 0,
  answerTimeoutMs: 300,
  namedStatements: true,
  clientSettings: requestPathClientSettings(),
});
await sql.query({ name: 'connect', text: 'SELECT 1' });
const answer = sql.query<{ slept: string }>({ name: 'short_sleep', text: 'SELECT pg_sleep(0.1)::text AS slept' });
// Written once this tick ends (Connection corks the socket until then).
setImmediate(() => process.stdout.write('sent\n'));
const outcome = await answer.then(
  (rows) => ({ rows }),
  (error: unknown) => ({ error: error instanceof Error ? error.name : String(error) }),
);
process.stdout.write(`${JSON.stringify(outcome)}\n`);
await sql.close();
