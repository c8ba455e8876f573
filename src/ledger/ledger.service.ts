import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';
import { AccountsService } from '../accounts/accounts.service.js';
import { EventsService } from '../events/events.service.js';
import { NotFoundError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { ListPage, ListQueryDto, listPage } from '../common/pagination.js';
import type { CreateDepositDto, DepositDto, EntryDto } from './dto/ledger.dto.js';
import { DepositRow, EntryRow, LedgerRepository } from './ledger.repository.js';

function toDepositDto(row: DepositRow): DepositDto {
  return {
    id: row.id,
    object: 'deposit',
    account: row.account_id,
    amount: Number(row.amount),
    currency: row.currency,
    description: row.description,
    created_at: row.created_at.toISOString(),
  };
}

function toEntryDto(row: EntryRow): EntryDto {
  return {
    id: row.id,
    object: 'entry',
    account: row.account_id,
    amount: Number(row.amount),
    currency: row.currency,
    type: row.type,
    reference: row.reference,
    created_at: row.created_at.toISOString(),
  };
}

@Injectable()
export class LedgerService {
  constructor(
    private readonly ledger: LedgerRepository,
    private readonly accounts: AccountsService,
    private readonly events: EventsService,
  ) {}

  async deposit(tx: SqlTransaction, merchantId: string, accountId: string, body: CreateDepositDto): Promise<DepositDto> {
    const row = await this.ledger.deposit(tx, merchantId, accountId, body.amount, body.description ?? null, {
      deposit: newId('dep'),
      creditEntry: newId('ent'),
      debitEntry: newId('ent'),
    });
    if (!row) throw new NotFoundError('account', accountId);
    const deposit = toDepositDto(row);
    this.events.record(tx, merchantId, 'deposit.created', deposit);
    return deposit;
  }

  async entries(merchantId: string, accountId: string, query: ListQueryDto): Promise<ListPage<EntryDto>> {
    await this.accounts.get(merchantId, accountId); // 404 for an account the merchant does not have
    return listPage(
      query,
      {
        what: 'entry',
        positionOf: (id) => this.ledger.entrySeq(merchantId, accountId, id),
        rows: (limit, afterSeq) => this.ledger.listEntries(merchantId, accountId, limit, afterSeq),
      },
      toEntryDto,
    );
  }
}
