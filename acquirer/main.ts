import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readConfig } from './config.js';
import { Journal } from './journal.js';
import { PaymentStore, type JournalEntry } from './payments.js';
import { createAcquirer } from './server.js';

// A simulated card acquirer: its own process, port and store (npm run acquirer, acquirer/README.md).

async function main(): Promise<void> {
  const config = readConfig(process.env);
  const { journal, entries } = await Journal.open<JournalEntry>(config.dataDir);
  const store = new PaymentStore(config.keyTtlSeconds * 1000);
  for (const entry of entries) store.apply(entry);
  const server = createAcquirer({
    store,
    journal,
    faults: config.faults,
    onFatal: (error) => {
      console.error(JSON.stringify({ level: 'fatal', msg: 'the journal could not be written; stopping', error: String(error) }));
      process.exit(1);
    },
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  console.log(
    JSON.stringify({
      level: 'info',
      msg: 'acquirer listening',
      port: (server.address() as AddressInfo).port,
      dataDir: config.dataDir,
      payments: store.size,
    }),
  );
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // Every answer already sent is on disk; held and in-flight requests are simply cut.
      server.close();
      server.closeAllConnections();
      void journal.close().finally(() => process.exit(0));
    });
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
