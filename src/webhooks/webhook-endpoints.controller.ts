import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { etagOf, parseIfMatch } from '../accounts/etag.js';
import { RequiresScope } from '../api-keys/scopes.js';
import { MerchantId } from '../common/auth.decorators.js';
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
import type { SqlTransaction } from '../database/sql.js';
import { Tx } from '../database/tx.decorator.js';
import { ShownOnce } from '../idempotency/idempotency.decorators.js';
import {
  CreateWebhookEndpointDto,
  DeletedWebhookEndpointDto,
  RollWebhookSecretDto,
  UpdateWebhookEndpointDto,
  WEBHOOK_ENDPOINT_EXAMPLE,
  WebhookEndpointDto,
} from './dto/webhook-endpoint.dto.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';

function located(reply: FastifyReply, endpoint: WebhookEndpointDto): WebhookEndpointDto {
  void reply.header('Location', `/v1/webhook_endpoints/${endpoint.id}`).header('ETag', etagOf(endpoint.version));
  return endpoint;
}

const ENDPOINT_ID = ApiIdParam('The webhook endpoint id (we_...).', WEBHOOK_ENDPOINT_EXAMPLE.id);
const HIDDEN = { ...WEBHOOK_ENDPOINT_EXAMPLE, secret: null };
const WRITE_PROBLEMS = ['validation_failed', ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS] as const;
const READ_PROBLEMS = ['validation_failed', ...AUTHENTICATED_PROBLEMS] as const;

@ApiTags('webhook_endpoints')
@ApiBearerAuth('api_key')
@Controller('v1/webhook_endpoints')
export class WebhookEndpointsController {
  constructor(private readonly endpoints: WebhookEndpointsService) {}

  @Post()
  @RequiresScope('webhooks:manage')
  @ShownOnce('secret')
  @ApiOperation({
    operationId: 'createWebhookEndpoint',
    summary: 'Create a webhook endpoint.',
    description:
      'Events of the listed types are POSTed to `url`, signed per Standard Webhooks with the secret, shown once here: a replay of this request answers secret null (roll_secret makes a new one). Only events written after it exists are sent to it.',
  })
  @IdempotencyKeyHeader()
  @ApiJsonBody({
    type: CreateWebhookEndpointDto,
    required: true,
    example: { url: 'https://shop.example/webhooks', events: ['charge.succeeded', 'charge.refunded'], description: 'Order fulfilment' },
  })
  @ApiSuccess({
    status: 201,
    type: WebhookEndpointDto,
    description: 'Created, with its secret shown once.',
    example: WEBHOOK_ENDPOINT_EXAMPLE,
    location: true,
    etag: true,
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, 'webhook_url_not_allowed')
  async create(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Body() body: CreateWebhookEndpointDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    return located(reply, await this.endpoints.create(tx, merchantId, body));
  }

  @Get()
  @RequiresScope('webhooks:manage')
  @ApiOperation({ operationId: 'listWebhookEndpoints', summary: 'List webhook endpoints, newest first.', description: 'Never a secret.' })
  @ApiSuccess({
    status: 200,
    type: ListOf(WebhookEndpointDto),
    description: 'A page of endpoints.',
    example: { object: 'list', data: [HIDDEN], has_more: false },
  })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  list(@MerchantId() merchantId: string, @Query() query: ListQueryDto): Promise<ListPage<WebhookEndpointDto>> {
    return this.endpoints.list(merchantId, query);
  }

  @Get(':id')
  @RequiresScope('webhooks:manage')
  @ApiOperation({
    operationId: 'getWebhookEndpoint',
    summary: 'Retrieve a webhook endpoint.',
    description: 'Never its secret; its version in ETag.',
  })
  @ENDPOINT_ID
  @ApiSuccess({ status: 200, type: WebhookEndpointDto, description: 'The endpoint.', example: HIDDEN, etag: true })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  async get(
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    const endpoint = await this.endpoints.get(merchantId, id);
    void reply.header('ETag', etagOf(endpoint.version));
    return endpoint;
  }

  @Post(':id')
  @HttpCode(200)
  @RequiresScope('webhooks:manage')
  @ApiOperation({
    operationId: 'updateWebhookEndpoint',
    summary: 'Change a webhook endpoint (versioned).',
    description:
      "Changes url, events, description or status (enabled resumes deliveries, pending ones included; disabled stops them). Needs If-Match with the current ETag, as an account's PUT (stale: 412, missing: 428); content identical to the current is a 200 whatever If-Match says.",
  })
  @ENDPOINT_ID
  @ApiHeader({ name: 'If-Match', required: false, description: 'The ETag of the version being changed, e.g. "3".', example: '"3"' })
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: UpdateWebhookEndpointDto, required: true, example: { events: ['*'] } })
  @ApiSuccess({
    status: 200,
    type: WebhookEndpointDto,
    description: 'Updated, or unchanged (identical content).',
    example: { ...HIDDEN, events: ['*'], version: 2 },
    location: true,
    etag: true,
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'), 'webhook_url_not_allowed', 'precondition_failed', 'precondition_required')
  async update(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: UpdateWebhookEndpointDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    return located(reply, await this.endpoints.update(tx, merchantId, id, body, parseIfMatch(ifMatch)));
  }

  @Post(':id/disable')
  @HttpCode(200)
  @RequiresScope('webhooks:manage')
  @ApiOperation({
    operationId: 'disableWebhookEndpoint',
    summary: 'Disable a webhook endpoint.',
    description:
      'Nothing more is sent to it (its pending deliveries wait) until an update sets status enabled. No If-Match needed: disabling twice is one disabling.',
  })
  @ENDPOINT_ID
  @IdempotencyKeyHeader()
  @ApiSuccess({
    status: 200,
    type: WebhookEndpointDto,
    description: 'Disabled.',
    example: { ...HIDDEN, status: 'disabled', disabled_reason: 'requested', version: 2 },
    location: true,
    etag: true,
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'))
  async disable(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    return located(reply, await this.endpoints.disable(tx, merchantId, id));
  }

  @Post(':id/roll_secret')
  @HttpCode(200)
  @RequiresScope('webhooks:manage')
  @ShownOnce('secret')
  @ApiOperation({
    operationId: 'rollWebhookEndpointSecret',
    summary: 'Roll the signing secret, the previous one signing too for an overlap.',
    description:
      'A new secret, shown once. For expires_in_seconds (default 24 h) every webhook carries two signatures, one per secret, space-separated in webhook-signature (Standard Webhooks), so receivers can switch secrets with no webhook refused. A replay answers secret null.',
  })
  @ENDPOINT_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: RollWebhookSecretDto, required: false, example: { expires_in_seconds: 86400 } })
  @ApiSuccess({
    status: 200,
    type: WebhookEndpointDto,
    description: 'The endpoint with its new secret, shown once.',
    example: { ...WEBHOOK_ENDPOINT_EXAMPLE, previous_secret_expires_at: '2026-12-08T14:37:15.868Z', version: 2 },
    location: true,
    etag: true,
    recorded: 'always',
  })
  @ApiProblems(...WRITE_PROBLEMS, recorded('not_found'))
  async rollSecret(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: RollWebhookSecretDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<WebhookEndpointDto> {
    return located(reply, await this.endpoints.rollSecret(tx, merchantId, id, body.expires_in_seconds));
  }

  @Delete(':id')
  @RequiresScope('webhooks:manage')
  @ApiOperation({
    operationId: 'deleteWebhookEndpoint',
    summary: 'Delete a webhook endpoint.',
    description: 'It and its pending deliveries go; events stay. A second delete (a retry after a lost answer) is 404.',
  })
  @ENDPOINT_ID
  @ApiSuccess({
    status: 200,
    type: DeletedWebhookEndpointDto,
    description: 'Deleted.',
    example: { id: WEBHOOK_ENDPOINT_EXAMPLE.id, object: 'webhook_endpoint', deleted: true },
  })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  delete(@Tx() tx: SqlTransaction, @MerchantId() merchantId: string, @Param('id') id: string): Promise<DeletedWebhookEndpointDto> {
    return this.endpoints.delete(tx, merchantId, id);
  }
}
