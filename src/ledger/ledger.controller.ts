import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { EntityManager } from 'typeorm';
import { ApiProblems, ApiSuccess, IdempotentOperation } from '../common/openapi.js';
import { ListOf, ListQueryDto, type ListPage } from '../common/pagination.js';
import { Tx } from '../database/tx.decorator.js';
import { MerchantId } from '../common/auth.decorators.js';
import { CreateDepositDto, DepositDto, EntryDto } from './dto/ledger.dto.js';
import { LedgerService } from './ledger.service.js';

@ApiTags('ledger')
@ApiBearerAuth('api_key')
@ApiProblems(401, 404, 429, 503)
@Controller('v1/accounts/:id')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Post('deposits')
  @ApiOperation({ summary: 'Deposit money into an account (money entering the system).' })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: DepositDto, description: 'The deposit.', recorded: true })
  @ApiProblems(413, 415)
  deposit(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Param('id') accountId: string,
    @Body() body: CreateDepositDto,
  ): Promise<DepositDto> {
    return this.ledger.deposit(tx, merchantId, accountId, body);
  }

  @Get('entries')
  @ApiOperation({ summary: "List an account's ledger entries, newest first." })
  @ApiSuccess({ status: 200, type: ListOf(EntryDto), description: 'A page of entries.' })
  @ApiProblems(400)
  entries(@MerchantId() merchantId: string, @Param('id') accountId: string, @Query() query: ListQueryDto): Promise<ListPage<EntryDto>> {
    return this.ledger.entries(merchantId, accountId, query);
  }
}
