import { Body, Controller, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { EntityManager } from 'typeorm';
import { ApiProblems, ApiSuccess, IdempotentOperation } from '../common/openapi.js';
import { ListOf, type ListPage } from '../common/pagination.js';
import { Tx } from '../idempotency/idempotency.decorators.js';
import { MerchantId } from '../merchants/auth.decorators.js';
import { ChargesService } from './charges.service.js';
import { BalanceDto, ChargeDto, CreateChargeDto, ListChargesQueryDto } from './dto/charge.dto.js';

@ApiTags('charges')
@ApiBearerAuth('api_key')
@ApiProblems(401, 503)
@Controller('v1')
export class ChargesController {
  constructor(private readonly charges: ChargesService) {}

  @Post('charges')
  @ApiOperation({
    summary: 'Charge an account.',
    description:
      "Moves `amount` from the `source` account to the merchant's balance (capture: true, status succeeded), or holds it on the source (capture: false, status authorized). 402, 404 (source) and 422 currency_mismatch are recorded against the Idempotency-Key and replayed, even if the account is topped up later.",
  })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: ChargeDto, description: 'The charge.', location: true, recorded: true })
  @ApiProblems(402, 404, 413, 415)
  async create(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Body() body: CreateChargeDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ChargeDto> {
    const charge = await this.charges.create(tx, merchantId, body);
    void reply.header('Location', `/v1/charges/${charge.id}`);
    return charge;
  }

  @Get('charges')
  @ApiOperation({ summary: 'List charges, newest first.' })
  @ApiSuccess({ status: 200, type: ListOf(ChargeDto), description: 'A page of charges.' })
  @ApiProblems(400, 404)
  list(@MerchantId() merchantId: string, @Query() query: ListChargesQueryDto): Promise<ListPage<ChargeDto>> {
    return this.charges.list(merchantId, query);
  }

  @Get('charges/:id')
  @ApiOperation({ summary: 'Retrieve a charge.' })
  @ApiSuccess({ status: 200, type: ChargeDto, description: 'The charge.' })
  @ApiProblems(404)
  get(@MerchantId() merchantId: string, @Param('id') id: string): Promise<ChargeDto> {
    return this.charges.get(merchantId, id);
  }

  @Get('balance')
  @ApiOperation({ summary: "The merchant's balance per currency." })
  @ApiSuccess({ status: 200, type: BalanceDto, description: 'Available and pending funds.' })
  balance(@MerchantId() merchantId: string): Promise<BalanceDto> {
    return this.charges.balance(merchantId);
  }
}
