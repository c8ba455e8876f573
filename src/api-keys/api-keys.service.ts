import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';
import { NotFoundError, ValidationFailedError } from '../common/domain-error.js';
import { newId } from '../common/ids.js';
import { listPage, type ListPage, type ListQueryDto } from '../common/pagination.js';
import { InvalidStateError } from '../charges/charges.errors.js';
import { apiKeyHint, hashApiKey, newApiKey } from './api-key.js';
import { LastManagingKeyError } from './api-keys.errors.js';
import { ApiKeysRepository, type Actor, type ApiKeyRow, type AuditEventRow, type NewKey } from './api-keys.repository.js';
import type { ApiKeyDto, ApiKeyWithHistoryDto, AuditEventDto, CreateApiKeyDto } from './dto/api-key.dto.js';
import { KnownKeysService } from './known-keys.service.js';

/** A new secret, and what is stored of it. */
function mintKey(merchantId: string): { secret: string; stored: NewKey } {
  const secret = newApiKey(merchantId);
  return { secret, stored: { id: newId('key'), keyHash: hashApiKey(secret), hint: apiKeyHint(merchantId, secret) } };
}

@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly known: KnownKeysService,
  ) {}

  /** A key of the merchant (its own, or any merchant's by the admin): 404 for an unknown merchant. */
  async create(tx: SqlTransaction, merchantId: string, body: CreateApiKeyDto, by: Actor): Promise<ApiKeyDto> {
    if (body.expires_at !== undefined && !(Date.parse(body.expires_at) > Date.now())) {
      throw new ValidationFailedError([{ field: 'expires_at', message: 'expires_at must be in the future' }]);
    }
    const { secret, stored } = mintKey(merchantId);
    const fields = { name: body.name, scopes: body.scopes ?? null, expiresAt: body.expires_at ?? null };
    const row = await this.keys.create(tx, merchantId, stored, fields, by, newId('aud'));
    if (!row) throw new NotFoundError('merchant', merchantId);
    return { ...toDto(row), secret };
  }

  async roll(tx: SqlTransaction, merchantId: string, id: string, overlapSeconds: number, by: Actor): Promise<ApiKeyDto> {
    const { secret, stored } = mintKey(merchantId);
    const rolled = await this.keys.roll(tx, merchantId, id, overlapSeconds, stored, by, [newId('aud'), newId('aud')]);
    if (!rolled) {
      const existing = await this.keys.find(merchantId, id);
      if (!existing) throw new NotFoundError('API key', id);
      throw new InvalidStateError(`Only an active key can be rolled; this one is ${existing.status}.`);
    }
    // This instance looks the old key up again, and so learns its new expiry at once.
    this.known.forget(rolled.oldKeyHash);
    return { ...toDto(rolled.created), secret };
  }

  /**
   * Revokes a key: refused here at once (this instance forgets it), and on every other instance
   * once their memory of it lapses (KnownKeysService: API_KEY_CACHE_MS). The merchant's own
   * revocation keeps at least one key that can manage keys; the admin's does not (a leaked key
   * must stop whatever it leaves).
   */
  async revoke(tx: SqlTransaction, merchantId: string, id: string, by: Actor, options: { keepAManager: boolean }): Promise<ApiKeyDto> {
    const outcome = await this.keys.revoke(tx, merchantId, id, options.keepAManager, by, newId('aud'));
    if (outcome === 'not found') throw new NotFoundError('API key', id);
    if (outcome === 'last managing key') throw new LastManagingKeyError(id);
    this.known.forget(outcome.keyHash);
    return { ...toDto(outcome.revoked), secret: null };
  }

  async get(merchantId: string, id: string): Promise<ApiKeyWithHistoryDto> {
    const row = await this.keys.find(merchantId, id);
    if (!row) throw new NotFoundError('API key', id);
    return { ...toDto(row), secret: null, history: row.history.map(toEventDto) };
  }

  list(merchantId: string, query: ListQueryDto): Promise<ListPage<ApiKeyDto>> {
    return listPage(
      query,
      {
        what: 'API key',
        positionOf: (id) => this.keys.seqOf(merchantId, id),
        rows: (limit, afterSeq) => this.keys.list(merchantId, limit, afterSeq),
      },
      (row) => ({ ...toDto(row), secret: null }),
    );
  }
}

function toDto(row: ApiKeyRow): Omit<ApiKeyDto, 'secret'> {
  return {
    id: row.id,
    object: 'api_key',
    name: row.name,
    scopes: row.scopes,
    hint: row.hint,
    status: row.status,
    created_at: row.created_at.toISOString(),
    expires_at: row.expires_at?.toISOString() ?? null,
    last_used_at: row.last_used_at?.toISOString() ?? null,
    revoked_at: row.revoked_at?.toISOString() ?? null,
    rolled_from: row.rolled_from,
  };
}

function toEventDto(row: AuditEventRow): AuditEventDto {
  return { id: row.id, action: row.action, actor: row.actor, request_id: row.request_id, created_at: row.created_at.toISOString() };
}
