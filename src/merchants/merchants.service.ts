import { Injectable } from '@nestjs/common';
import type { SqlTransaction } from '../database/sql.js';
import { newId } from '../common/ids.js';
import { hashApiKey, newApiKey } from './api-key.js';
import type { MerchantDto } from './dto/merchant.dto.js';
import { MerchantsRepository } from './merchants.repository.js';

@Injectable()
export class MerchantsService {
  constructor(private readonly merchants: MerchantsRepository) {}

  async create(tx: SqlTransaction, name: string): Promise<MerchantDto> {
    const id = newId('mer');
    const apiKey = newApiKey(id);
    const row = await this.merchants.create(tx, id, name, hashApiKey(apiKey));
    return { id: row.id, object: 'merchant', name: row.name, api_key: apiKey, created_at: row.created_at.toISOString() };
  }
}
