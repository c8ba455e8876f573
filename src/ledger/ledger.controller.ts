import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { SqlTransaction } from '../database/sql.js';
import {
  ApiIdParam,
  ApiJsonBody,
  ApiProblems,
  ApiSuccess,
  AUTHENTICATED_PROBLEMS,
  BODY_PROBLEMS,
  IDEMPOTENCY_PROBLEMS,
  IdempotencyKeyHeader,
  recorded,
} from '../common/openapi.js';
import { ListOf, ListQueryDto, type ListPage } from '../common/pagination.js';
import { Tx } from '../database/tx.decorator.js';
import { RequiresScope } from '../api-keys/scopes.js';
import { MerchantId } from '../common/auth.decorators.js';
import { CreateDepositDto, DEPOSIT_EXAMPLE, DepositDto, ENTRY_EXAMPLE, EntryDto } from './dto/ledger.dto.js';
import { LedgerService } from './ledger.service.js';

const ACCOUNT_ID = ApiIdParam('The account id: acct_..., or the id a client chose with PUT.', 'acct_9dK2mQx0aVbT7nP4');

@ApiTags('ledger')
@ApiBearerAuth('api_key')
@Controller('v1/accounts/:id')
export class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Post('deposits')
  @RequiresScope('accounts:write')
  @ApiOperation({
    operationId: 'createDeposit',
    summary: 'Deposit money into an account (money entering the system).',
    description:
      "Credits the account; the ledger's external account is the other side. 404 (the account) is recorded; a deposit that would take the balance past 2^53 - 1 is 422 balance_limit_exceeded, not recorded.",
  })
  @ACCOUNT_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateDepositDto, required: true, example: { amount: 10000, description: 'Top-up' } })
  @ApiSuccess({ status: 201, type: DepositDto, description: 'The deposit.', example: DEPOSIT_EXAMPLE, recorded: 'always' })
  @ApiProblems(
    'validation_failed',
    ...IDEMPOTENCY_PROBLEMS,
    recorded('not_found'),
    'balance_limit_exceeded',
    ...BODY_PROBLEMS,
    ...AUTHENTICATED_PROBLEMS,
  )
  deposit(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') accountId: string,
    @Body() body: CreateDepositDto,
  ): Promise<DepositDto> {
    return this.ledger.deposit(tx, merchantId, accountId, body);
  }

  @Get('entries')
  @RequiresScope('accounts:read')
  @ApiOperation({
    operationId: 'listAccountEntries',
    summary: "List an account's ledger entries, newest first.",
    description: "Amounts are signed from the account's side: deposits and refunds positive, charges and captures negative.",
  })
  @ACCOUNT_ID
  @ApiSuccess({
    status: 200,
    type: ListOf(EntryDto),
    description: 'A page of entries.',
    example: { object: 'list', data: [ENTRY_EXAMPLE], has_more: false },
  })
  @ApiProblems('validation_failed', 'not_found', ...AUTHENTICATED_PROBLEMS)
  entries(@MerchantId() merchantId: string, @Param('id') accountId: string, @Query() query: ListQueryDto): Promise<ListPage<EntryDto>> {
    return this.ledger.entries(merchantId, accountId, query);
  }
}
