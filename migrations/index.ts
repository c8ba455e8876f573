import { InitialSchema1732350000000 } from './1732350000000-InitialSchema.js';
import { AppendOnlySystemAccounts1732360000000 } from './1732360000000-AppendOnlySystemAccounts.js';
import { RefundsAndBatches1732370000000 } from './1732370000000-RefundsAndBatches.js';
import { IdempotencyClaims1732380000000 } from './1732380000000-IdempotencyClaims.js';
import { BalanceTotals1732390000000 } from './1732390000000-BalanceTotals.js';
import { IdempotencyOpenKey1732400000000 } from './1732400000000-IdempotencyOpenKey.js';
import { IdempotencyOpeningDropsExpired1732410000000 } from './1732410000000-IdempotencyOpeningDropsExpired.js';
import { IdempotencyClaimKey1732420000000 } from './1732420000000-IdempotencyClaimKey.js';
import { CardCharges1732430000000 } from './1732430000000-CardCharges.js';
import { ApiKeyResource1732450000000 } from './1732450000000-ApiKeyResource.js';
import { EventsAndWebhooks1732460000000 } from './1732460000000-EventsAndWebhooks.js';
import { LedgerCheck1732465000000 } from './1732465000000-LedgerCheck.js';
import { EventsCheaperToWrite1732470000000 } from './1732470000000-EventsCheaperToWrite.js';
import { ReplicationFences1732480000000 } from './1732480000000-ReplicationFences.js';

/**
 * Every migration, in order. Listed by class rather than found by a file glob, so the same list
 * works compiled (npm start), under jest, and from the migration CLI.
 */
export const ALL_MIGRATIONS = [
  InitialSchema1732350000000,
  AppendOnlySystemAccounts1732360000000,
  RefundsAndBatches1732370000000,
  IdempotencyClaims1732380000000,
  BalanceTotals1732390000000,
  IdempotencyOpenKey1732400000000,
  IdempotencyOpeningDropsExpired1732410000000,
  IdempotencyClaimKey1732420000000,
  CardCharges1732430000000,
  ApiKeyResource1732450000000,
  EventsAndWebhooks1732460000000,
  LedgerCheck1732465000000,
  EventsCheaperToWrite1732470000000,
  ReplicationFences1732480000000,
];
