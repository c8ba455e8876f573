import { Body, Controller, Get, Headers, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { SqlTransaction } from '../database/sql.js';
import { ListOf, ListQueryDto, type ListPage } from '../common/pagination.js';
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
import { Tx } from '../database/tx.decorator.js';
import { RequiresScope } from '../api-keys/scopes.js';
import { MerchantId } from '../common/auth.decorators.js';
import { AccountsService } from './accounts.service.js';
import {
  ACCOUNT_EXAMPLE,
  ACCOUNT_FIELDS_EXAMPLE,
  AccountDto,
  AccountFieldsDto,
  AccountIdParam,
  CLIENT_ACCOUNT_ID,
} from './dto/account.dto.js';
import { etagOf, parseIfMatch } from './etag.js';

function located(reply: FastifyReply, account: AccountDto): AccountDto {
  void reply.header('Location', `/v1/accounts/${encodeURIComponent(account.id)}`).header('ETag', etagOf(account.version));
  return account;
}

const READ_PROBLEMS = ['validation_failed', ...AUTHENTICATED_PROBLEMS] as const;

@ApiTags('accounts')
@ApiBearerAuth('api_key')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @RequiresScope('accounts:write')
  @ApiOperation({
    operationId: 'createAccount',
    summary: 'Create an account (a customer wallet).',
    description: 'A new account of the merchant with a generated id (acct_...), balance 0 and version 1.',
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: AccountFieldsDto, required: true, example: ACCOUNT_FIELDS_EXAMPLE })
  @ApiSuccess({
    status: 201,
    type: AccountDto,
    description: 'Created.',
    example: ACCOUNT_EXAMPLE,
    location: true,
    etag: true,
    recorded: 'always',
  })
  @ApiProblems('validation_failed', ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS)
  async create(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Body() body: AccountFieldsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    return located(reply, await this.accounts.create(tx, merchantId, body));
  }

  @Get()
  @RequiresScope('accounts:read')
  @ApiOperation({
    operationId: 'listAccounts',
    summary: 'List accounts, newest first.',
    description: "A page of the merchant's accounts; starting_after an unknown id is 404.",
  })
  @ApiSuccess({
    status: 200,
    type: ListOf(AccountDto),
    description: 'A page of accounts.',
    example: { object: 'list', data: [ACCOUNT_EXAMPLE], has_more: false },
  })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  list(@MerchantId() merchantId: string, @Query() query: ListQueryDto): Promise<ListPage<AccountDto>> {
    return this.accounts.list(merchantId, query);
  }

  @Get(':id')
  @RequiresScope('accounts:read')
  @ApiOperation({
    operationId: 'getAccount',
    summary: 'Retrieve an account.',
    description: 'An account of this merchant, with its version in ETag; any other id is 404.',
  })
  @ApiIdParam('The account id: acct_..., or the id a client chose with PUT.', 'acct_9dK2mQx0aVbT7nP4')
  @ApiSuccess({ status: 200, type: AccountDto, description: 'The account.', example: ACCOUNT_EXAMPLE, etag: true })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  async get(
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    const account = await this.accounts.get(merchantId, id);
    void reply.header('ETag', etagOf(account.version));
    return account;
  }

  @Put(':id')
  @RequiresScope('accounts:write')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'upsertAccount',
    summary: 'Create or update an account with a client-chosen id (versioned upsert).',
    description:
      'Absent: created (201, ETag "1"). Present with identical content: 200, unchanged, whatever If-Match says (so a retry of a PUT that succeeded stays a success). Present with different content: needs If-Match with the current ETag (200 and version + 1; stale: 412 with the current ETag; missing: 428). If-None-Match: * creates only (412 when present). If-Match on an absent account: 412. currency cannot change (422 currency_mismatch). With an Idempotency-Key the answer is recorded and replayed like a POST\'s.',
  })
  @ApiParam({
    name: 'id',
    description: 'The id the client chooses for the account.',
    schema: { type: 'string', pattern: CLIENT_ACCOUNT_ID.source, example: 'customer-42' },
  })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of the version being changed, e.g. "3".', example: '"3"' })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: create only (other values are ignored).', example: '*' })
  @IdempotencyKeyHeader({ required: false })
  @ApiJsonBody({ type: AccountFieldsDto, required: true, example: ACCOUNT_FIELDS_EXAMPLE })
  @ApiSuccess({
    status: 200,
    type: AccountDto,
    description: 'Updated, or unchanged (identical content).',
    example: { ...ACCOUNT_EXAMPLE, id: 'customer-42', version: 2 },
    location: true,
    etag: true,
    recorded: 'with-key',
  })
  @ApiSuccess({
    status: 201,
    type: AccountDto,
    description: 'Created.',
    example: { ...ACCOUNT_EXAMPLE, id: 'customer-42' },
    location: true,
    etag: true,
    recorded: 'with-key',
  })
  @ApiProblems(
    'validation_failed',
    'idempotency_key_invalid',
    'idempotency_request_in_progress',
    'idempotency_key_reused',
    // Only an id over 100 characters: an absent account is created.
    'not_found',
    'precondition_failed',
    'precondition_required',
    recorded('currency_mismatch'),
    ...BODY_PROBLEMS,
    ...AUTHENTICATED_PROBLEMS,
  )
  async upsert(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param() params: AccountIdParam,
    @Body() body: AccountFieldsDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    const { account, created } = await this.accounts.upsert(tx, merchantId, params.id, body, {
      ifMatch: parseIfMatch(ifMatch),
      ifNoneMatchAny: ifNoneMatch?.trim() === '*',
    });
    void reply.status(created ? 201 : 200);
    return located(reply, account);
  }
}
