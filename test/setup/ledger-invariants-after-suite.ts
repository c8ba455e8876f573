import { DataSource } from 'typeorm';
import { dataSourceOptions } from '../../src/config/data-source-options.js';
import { expectLedgerInvariants } from '../support/ledger-invariants.js';

// Registered for every test file (jest setupFilesAfterEach): after each suite, whatever it did,
// the ledger invariants hold over the whole database.
afterAll(async () => {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) return;
  const dataSource = await new DataSource(dataSourceOptions(url, 2)).initialize();
  try {
    await expectLedgerInvariants(dataSource);
  } finally {
    await dataSource.destroy();
  }
});
