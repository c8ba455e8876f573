import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';
import { newId } from '../common/ids.js';
import { apiKeyHint, hashApiKey, newApiKey } from '../api-keys/api-key.js';
import type { MerchantDto } from './dto/merchant.dto.js';
import { MerchantsRepository } from './merchants.repository.js';

@Injectable()
export class MerchantsService {
  constructor(private readonly merchants: MerchantsRepository) {}

  async create(tx: SqlTransaction, name: string): Promise<MerchantDto> {
    const id = newId('mer');
    const apiKey = newApiKey(id);
    const key = { id: newId('key'), hash: hashApiKey(apiKey), hint: apiKeyHint(id, apiKey) };
    const row = await this.merchants.create(tx, id, name, key);
    return { id: row.id, object: 'merchant', name: row.name, api_key: apiKey, created_at: row.created_at.toISOString() };
  }
}
