import { Body, Controller, createParamDecorator, Delete, ExecutionContext, Get, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { SqlTransaction } from '../database/sql.js';
import { AdminOnly, MerchantId } from '../common/auth.decorators.js';
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
import { ShownOnce } from '../idempotency/idempotency.decorators.js';
import type { Actor } from './api-keys.repository.js';
import { ApiKeysService } from './api-keys.service.js';
import { API_KEY_EXAMPLE, ApiKeyDto, ApiKeyWithHistoryDto, CreateApiKeyDto, RollApiKeyDto } from './dto/api-key.dto.js';
import { RequiresScope } from './scopes.js';

/** Who makes this request, for the audit events of the keys it changes. */
const Caller = createParamDecorator((_: unknown, context: ExecutionContext): Actor => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  return { actor: request.apiKeyId ?? 'admin', requestId: String(request.id) };
});

function located(reply: FastifyReply, key: ApiKeyDto): ApiKeyDto {
  void reply.header('Location', `/v1/api_keys/${key.id}`);
  return key;
}

const KEY_ID_EXAMPLE = API_KEY_EXAMPLE.id;
const REVOKED_EXAMPLE: ApiKeyDto = { ...API_KEY_EXAMPLE, secret: null, status: 'revoked', revoked_at: '2026-12-07T15:02:11.004Z' };
const CREATE_KEY_EXAMPLE: CreateApiKeyDto = { name: 'Checkout server', scopes: ['charges:write', 'charges:read'] };
const MerchantIdParam = () =>
  ApiParam({
    name: 'merchant_id',
    description: 'The merchant whose key it is.',
    schema: { type: 'string', minLength: 1, example: 'mer_3kTz0q8WcXnB1vYp2LmR' },
  });

@ApiTags('api_keys')
@Controller()
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post('v1/api_keys')
  @ApiBearerAuth('api_key')
  @RequiresScope('keys:manage')
  @ShownOnce('secret')
  @ApiOperation({
    operationId: 'createApiKey',
    summary: 'Create an API key.',
    description:
      'A new key of the merchant: unrestricted (every scope) without `scopes`, restricted to them with. The secret is shown once: a replay of this request (same Idempotency-Key) answers secret null.',
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateApiKeyDto, required: true, example: CREATE_KEY_EXAMPLE })
  @ApiSuccess({
    status: 201,
    type: ApiKeyDto,
    description: 'Created, with its secret shown once.',
    example: API_KEY_EXAMPLE,
    location: true,
    recorded: 'always',
  })
  @ApiProblems('validation_failed', ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS)
  async create(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Caller() by: Actor,
    @Body() body: CreateApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ApiKeyDto> {
    return located(reply, await this.keys.create(tx, merchantId, body, by));
  }

  @Get('v1/api_keys')
  @ApiBearerAuth('api_key')
  @RequiresScope('keys:manage')
  @ApiOperation({
    operationId: 'listApiKeys',
    summary: 'List API keys, newest first.',
    description: 'Every key of the merchant, revoked and expired ones included; never a secret.',
  })
  @ApiSuccess({
    status: 200,
    type: ListOf(ApiKeyDto),
    description: 'A page of keys.',
    example: { object: 'list', data: [{ ...API_KEY_EXAMPLE, secret: null }], has_more: false },
  })
  @ApiProblems('validation_failed', 'not_found', ...AUTHENTICATED_PROBLEMS)
  list(@MerchantId() merchantId: string, @Query() query: ListQueryDto): Promise<ListPage<ApiKeyDto>> {
    return this.keys.list(merchantId, query);
  }

  @Get('v1/api_keys/:id')
  @ApiBearerAuth('api_key')
  @RequiresScope('keys:manage')
  @ApiOperation({
    operationId: 'getApiKey',
    summary: 'Retrieve an API key, with its history.',
    description: 'The key (never its secret) and who created, rolled and revoked it.',
  })
  @ApiIdParam('The key id: key_...', KEY_ID_EXAMPLE)
  @ApiSuccess({
    status: 200,
    type: ApiKeyWithHistoryDto,
    description: 'The key.',
    example: {
      ...API_KEY_EXAMPLE,
      secret: null,
      history: [
        {
          id: 'aud_Hn2kV0qT8mWcXnB1vYp2',
          action: 'api_key.created',
          actor: 'key_Wc1f0yfbhNWBADX7nwtM',
          request_id: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b',
          created_at: API_KEY_EXAMPLE.created_at,
        },
      ],
    },
  })
  @ApiProblems('validation_failed', 'not_found', ...AUTHENTICATED_PROBLEMS)
  get(@MerchantId() merchantId: string, @Param('id') id: string): Promise<ApiKeyWithHistoryDto> {
    return this.keys.get(merchantId, id);
  }

  @Post('v1/api_keys/:id/roll')
  @ApiBearerAuth('api_key')
  @RequiresScope('keys:manage')
  @ShownOnce('secret')
  @ApiOperation({
    operationId: 'rollApiKey',
    summary: 'Roll an API key: a new secret, the old one kept for an overlap.',
    description:
      'A new key with the same name and scopes (its secret shown once) replaces an active key. The old key keeps working for expires_in_seconds (0: it stops now; at most 7 days), so the new secret can be deployed with no failed request. A replay answers secret null.',
  })
  @ApiIdParam('The id of the key to roll.', KEY_ID_EXAMPLE)
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: RollApiKeyDto, required: true, example: { expires_in_seconds: 3600 } })
  @ApiSuccess({
    status: 201,
    type: ApiKeyDto,
    description: 'The new key, with its secret shown once.',
    example: { ...API_KEY_EXAMPLE, id: 'key_Wc1f0yfbhNWBADX7nwtM', rolled_from: KEY_ID_EXAMPLE },
    location: true,
    recorded: 'always',
  })
  @ApiProblems(
    'validation_failed',
    recorded('not_found'),
    recorded('invalid_state'),
    ...IDEMPOTENCY_PROBLEMS,
    ...BODY_PROBLEMS,
    ...AUTHENTICATED_PROBLEMS,
  )
  async roll(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Caller() by: Actor,
    @Param('id') id: string,
    @Body() body: RollApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ApiKeyDto> {
    return located(reply, await this.keys.roll(tx, merchantId, id, body.expires_in_seconds, by));
  }

  @Delete('v1/api_keys/:id')
  @ApiBearerAuth('api_key')
  @RequiresScope('keys:manage')
  @ApiOperation({
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key.',
    description:
      'The key stops working at once on this instance and within API_KEY_CACHE_MS (1 s) on every other. Revoking a revoked key answers it as it is. The merchant cannot revoke its last key that can manage keys and does not expire (422 last_managing_key).',
  })
  @ApiIdParam('The id of the key to revoke.', KEY_ID_EXAMPLE)
  @ApiSuccess({ status: 200, type: ApiKeyDto, description: 'Revoked.', example: REVOKED_EXAMPLE })
  @ApiProblems('validation_failed', 'not_found', 'last_managing_key', ...AUTHENTICATED_PROBLEMS)
  revoke(@Tx() tx: SqlTransaction, @MerchantId() merchantId: string, @Caller() by: Actor, @Param('id') id: string): Promise<ApiKeyDto> {
    return this.keys.revoke(tx, merchantId, id, by, { keepAManager: true });
  }

  @Post('v1/merchants/:merchant_id/api_keys')
  @AdminOnly()
  @ApiBearerAuth('admin_token')
  @ShownOnce('secret')
  @ApiOperation({
    operationId: 'createMerchantApiKey',
    summary: 'Create an API key for a merchant (admin token).',
    description: "The admin's way back in for a merchant whose keys were all revoked. As createApiKey otherwise.",
  })
  @MerchantIdParam()
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: CreateApiKeyDto, required: true, example: { name: 'Replacement key' } })
  @ApiSuccess({
    status: 201,
    type: ApiKeyDto,
    description: 'Created, with its secret shown once.',
    example: { ...API_KEY_EXAMPLE, scopes: null },
    location: true,
    recorded: 'always',
  })
  @ApiProblems('validation_failed', recorded('not_found'), ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS)
  async createForMerchant(
    @Tx() tx: SqlTransaction,
    @Param('merchant_id') merchantId: string,
    @Caller() by: Actor,
    @Body() body: CreateApiKeyDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ApiKeyDto> {
    return located(reply, await this.keys.create(tx, merchantId, body, by));
  }

  @Delete('v1/merchants/:merchant_id/api_keys/:id')
  @AdminOnly()
  @ApiBearerAuth('admin_token')
  @ApiOperation({
    operationId: 'revokeMerchantApiKey',
    summary: "Revoke any merchant's API key (admin token).",
    description:
      'For a leaked key reported by a third party: revoked even when it is the merchant’s last key (createMerchantApiKey gives it a new one).',
  })
  @MerchantIdParam()
  @ApiIdParam('The id of the key to revoke.', KEY_ID_EXAMPLE)
  @ApiSuccess({ status: 200, type: ApiKeyDto, description: 'Revoked.', example: REVOKED_EXAMPLE })
  @ApiProblems('validation_failed', 'not_found', ...AUTHENTICATED_PROBLEMS)
  revokeForMerchant(
    @Tx() tx: SqlTransaction,
    @Param('merchant_id') merchantId: string,
    @Caller() by: Actor,
    @Param('id') id: string,
  ): Promise<ApiKeyDto> {
    return this.keys.revoke(tx, merchantId, id, by, { keepAManager: false });
  }
}
