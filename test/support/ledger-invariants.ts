import type { DataSource } from 'typeorm';
import { ledgerInvariantViolations as violations, type InvariantViolations } from '../../testing/ledger-invariants.js';

/** The contract's ledger invariants over the whole database, in one consistent snapshot. */
export async function ledgerInvariantViolations(dataSource: DataSource): Promise<InvariantViolations> {
  return dataSource.transaction('REPEATABLE READ', (tx) => violations((sql) => tx.query(sql)));
}

/** Call from afterAll of every e2e suite: the invariants hold after whatever it did. */
export async function expectLedgerInvariants(dataSource: DataSource): Promise<void> {
  expect(await ledgerInvariantViolations(dataSource)).toEqual({
    unbalancedCurrencies: [],
    balancesOffTheirEntries: [],
    negativeAvailable: [],
    heldOffAuthorisations: [],
    balanceTotalsOffTheLedger: [],
  });
}
