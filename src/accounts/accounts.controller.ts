import { Body, Controller, Get, Headers, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import type { EntityManager } from 'typeorm';
import { ListOf, ListQueryDto, type ListPage } from '../common/pagination.js';
import { ApiProblems, ApiSuccess, IdempotentOperation } from '../common/openapi.js';
import { Tx } from '../database/tx.decorator.js';
import { MerchantId } from '../common/auth.decorators.js';
import { AccountsService } from './accounts.service.js';
import { AccountDto, AccountFieldsDto, AccountIdParam } from './dto/account.dto.js';
import { etagOf, parseIfMatch } from './etag.js';

function located(reply: FastifyReply, account: AccountDto): AccountDto {
  void reply.header('Location', `/v1/accounts/${encodeURIComponent(account.id)}`).header('ETag', etagOf(account.version));
  return account;
}

@ApiTags('accounts')
@ApiBearerAuth('api_key')
@ApiProblems(401, 429, 503)
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @ApiOperation({ summary: 'Create an account (a customer wallet).' })
  @IdempotentOperation()
  @ApiSuccess({ status: 201, type: AccountDto, description: 'Created.', location: true, etag: true, recorded: true })
  @ApiProblems(413, 415)
  async create(
    @Tx() tx: EntityManager,
    @MerchantId() merchantId: string,
    @Body() body: AccountFieldsDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<AccountDto> {
    return located(reply, await this.accounts.create(tx, merchantId, body));
  }

  @Get()
  @ApiOperation({ summary: 'List accounts, newest first.' })
  @ApiSuccess({ status: 200, type: ListOf(AccountDto), description: 'A page of accounts.' })
  @ApiProblems(400, 404)
  list(@MerchantId() merchantId: string, @Query() query: ListQueryDto): Promise<ListPage<AccountDto>> {
    return this.accounts.list(merchantId, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Retrieve an account.' })
  @ApiSuccess({ status: 200, type: AccountDto, description: 'The account.', etag: true })
  @ApiProblems(404)
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
  @HttpCode(200)
  @ApiOperation({
    summary: 'Create or update an account with a client-chosen id (versioned upsert).',
    description:
      'Absent: created (201, ETag "1"). Present with identical content: 200, unchanged, whatever If-Match says (so a retry of a PUT that succeeded stays a success). Present with different content: needs If-Match with the current ETag (200 and version + 1; stale: 412 with the current ETag; missing: 428). If-None-Match: * creates only (412 when present). If-Match on an absent account: 412. currency cannot change (422 currency_mismatch).',
  })
  @ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of the version being changed, e.g. "3".' })
  @ApiHeader({ name: 'If-None-Match', required: false, description: '`*`: create only.' })
  @IdempotentOperation({ required: false })
  @ApiSuccess({
    status: 200,
    type: AccountDto,
    description: 'Updated, or unchanged (identical content).',
    location: true,
    etag: true,
    recorded: true,
  })
  @ApiSuccess({ status: 201, type: AccountDto, description: 'Created.', location: true, etag: true, recorded: true })
  @ApiProblems(412, 413, 415, 428)
  async upsert(
    @Tx() tx: EntityManager,
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
