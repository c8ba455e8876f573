import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { EntityManager } from 'typeorm';
import { ApiProblems, ApiSuccess, IdempotentOperation } from '../common/openapi.js';
import { ShownOnce } from '../idempotency/idempotency.decorators.js';
import { Tx } from '../database/tx.decorator.js';
import { AdminOnly } from '../common/auth.decorators.js';
import { CreateMerchantDto, MerchantDto } from './dto/merchant.dto.js';
import { MerchantsService } from './merchants.service.js';

@ApiTags('merchants')
@ApiBearerAuth('admin_token')
@Controller('v1/merchants')
export class MerchantsController {
  constructor(private readonly merchants: MerchantsService) {}

  @Post()
  @AdminOnly()
  @ShownOnce('api_key')
  @ApiOperation({ summary: 'Create a merchant and its API key (admin token).' })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: MerchantDto, description: 'The merchant, with its API key shown once.', recorded: true })
  @ApiProblems(401, 413, 415, 429)
  create(@Tx() tx: EntityManager, @Body() body: CreateMerchantDto): Promise<MerchantDto> {
    return this.merchants.create(tx, body.name);
  }
}
