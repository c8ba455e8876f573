import { Body, Controller, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SqlTransaction } from '../database/sql.js';
import {
  ApiJsonBody,
  ApiProblems,
  ApiSuccess,
  AUTHENTICATED_PROBLEMS,
  BODY_PROBLEMS,
  IDEMPOTENCY_PROBLEMS,
  IdempotencyKeyHeader,
} from '../common/openapi.js';
import { ShownOnce } from '../idempotency/idempotency.decorators.js';
import { Tx } from '../database/tx.decorator.js';
import { AdminOnly } from '../common/auth.decorators.js';
import { CreateMerchantDto, MERCHANT_EXAMPLE, MerchantDto } from './dto/merchant.dto.js';
import { MerchantsService } from './merchants.service.js';

@ApiTags('merchants')
@ApiBearerAuth('admin_token')
@Controller('v1/merchants')
export class MerchantsController {
  constructor(private readonly merchants: MerchantsService) {}

  @Post()
  @AdminOnly()
  @ShownOnce('api_key')
  @ApiOperation({
    operationId: 'createMerchant',
    summary: 'Create a merchant and its API key (admin token).',
    description:
      'Called with the ADMIN_TOKEN. The API key is shown once: it is stored only as a hash, so a replay of this request (same Idempotency-Key) answers api_key null.',
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateMerchantDto, required: true, example: { name: 'Acme Books' } })
  @ApiSuccess({
    status: 201,
    type: MerchantDto,
    description: 'The merchant, with its API key shown once.',
    example: MERCHANT_EXAMPLE,
    recorded: 'always',
  })
  @ApiProblems('validation_failed', ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS)
  create(@Tx() tx: SqlTransaction, @Body() body: CreateMerchantDto): Promise<MerchantDto> {
    return this.merchants.create(tx, body.name);
  }
}
