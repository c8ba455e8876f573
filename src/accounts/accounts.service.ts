import { Injectable } from '@nestjs/common';
import { isDeepStrictEqual } from 'node:util';
import type { SqlTransaction } from '../database/sql.js';
import { NotFoundError } from '../common/domain-error.js';
import { EventsService } from '../events/events.service.js';
import { newId } from '../common/ids.js';
import { ListPage, ListQueryDto, listPage } from '../common/pagination.js';
import { CurrencyImmutableError, PreconditionFailedError, PreconditionRequiredError } from './accounts.errors.js';
import { AccountFields, AccountRow, AccountsRepository } from './accounts.repository.js';
import type { AccountDto, AccountFieldsDto } from './dto/account.dto.js';
import type { IfMatch } from './etag.js';

export function toAccountDto(row: AccountRow): AccountDto {
  return {
    id: row.id,
    object: 'account',
    currency: row.currency,
    name: row.name,
    metadata: row.metadata,
    balance: Number(row.balance),
    held: Number(row.held),
    version: row.version,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function fieldsOf(body: AccountFieldsDto): AccountFields {
  return { currency: body.currency, name: body.name ?? null, metadata: body.metadata ?? {} };
}

export interface UpsertPreconditions {
  ifMatch: IfMatch | undefined;
  ifNoneMatchAny: boolean;
}

@Injectable()
export class AccountsService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly events: EventsService,
  ) {}

  async create(tx: SqlTransaction, merchantId: string, body: AccountFieldsDto): Promise<AccountDto> {
    const account = toAccountDto(await this.accounts.create(tx, merchantId, newId('acct'), fieldsOf(body)));
    this.events.record(tx, merchantId, 'account.created', account);
    return account;
  }

  async get(merchantId: string, id: string): Promise<AccountDto> {
    const row = await this.accounts.findById(merchantId, id);
    if (!row) throw new NotFoundError('account', id);
    return toAccountDto(row);
  }

  async list(merchantId: string, query: ListQueryDto): Promise<ListPage<AccountDto>> {
    return listPage(
      query,
      {
        what: 'account',
        positionOf: (id) => this.accounts.seqOf(merchantId, id),
        rows: (limit, afterSeq) => this.accounts.list(merchantId, limit, afterSeq),
      },
      toAccountDto,
    );
  }

  /**
   * PUT /v1/accounts/{id}: create with a client id, or change name/metadata under If-Match.
   * Every decision that writes is one conditional statement (insert-if-absent, update-if-version);
   * reads only classify a write that did not happen. Identical content is a 200 whatever If-Match
   * says, so a retried PUT that already succeeded stays a success.
   */
  async upsert(
    tx: SqlTransaction,
    merchantId: string,
    id: string,
    body: AccountFieldsDto,
    preconditions: UpsertPreconditions,
  ): Promise<{ account: AccountDto; created: boolean }> {
    const fields = fieldsOf(body);
    const { ifMatch, ifNoneMatchAny } = preconditions;

    if (ifMatch === undefined) {
      const created = await this.accounts.createIfAbsent(tx, merchantId, id, fields);
      if (created) {
        const account = toAccountDto(created);
        this.events.record(tx, merchantId, 'account.created', account);
        return { account, created: true };
      }
    }
    const current = await this.accounts.find(tx, merchantId, id);
    if (!current) {
      // If-Match names a version of something that does not exist (RFC 9110: 412).
      throw new PreconditionFailedError(0, 'If-Match was sent but the account does not exist.');
    }
    if (ifNoneMatchAny) throw new PreconditionFailedError(current.version, 'If-None-Match: * was sent and the account exists.');
    if (current.currency !== fields.currency) throw new CurrencyImmutableError(current.currency);
    if (sameContent(current, fields)) return { account: toAccountDto(current), created: false };
    if (ifMatch === undefined) throw new PreconditionRequiredError(current.version);

    const expected = 'any' in ifMatch ? null : ifMatch.versions;
    const updated = await this.accounts.updateIfVersion(tx, merchantId, id, expected, fields);
    if (updated) {
      const account = toAccountDto(updated);
      this.events.record(tx, merchantId, 'account.updated', account);
      return { account, created: false };
    }
    const now = await this.accounts.find(tx, merchantId, id);
    throw new PreconditionFailedError(now?.version ?? current.version);
  }
}

function sameContent(row: AccountRow, fields: AccountFields): boolean {
  return row.name === fields.name && isDeepStrictEqual(row.metadata, fields.metadata);
}
