import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
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
import { ListOf, type ListPage } from '../common/pagination.js';
import type { SqlTransaction } from '../database/sql.js';
import { Tx } from '../database/tx.decorator.js';
import { EVENT_EXAMPLE, EventDto, ListEventsQueryDto, RedeliverEventDto, RedeliveryDto } from './dto/event.dto.js';
import { EventsService } from './events.service.js';

const EVENT_ID = ApiIdParam('The event id (evt_...).', EVENT_EXAMPLE.id);
const READ_PROBLEMS = ['validation_failed', ...AUTHENTICATED_PROBLEMS] as const;

@ApiTags('events')
@ApiBearerAuth('api_key')
@Controller('v1/events')
export class EventsController {
  constructor(private readonly events: EventsService) {}

  @Get()
  @RequiresScope('events:read')
  @ApiOperation({
    operationId: 'listEvents',
    summary: 'List events, newest first.',
    description:
      "The merchant's events of the last 30 days, one per effect, optionally of one type and within [created_gte, created_lt). starting_after an unknown id is 404.",
  })
  @ApiSuccess({
    status: 200,
    type: ListOf(EventDto),
    description: 'A page of events.',
    example: { object: 'list', data: [EVENT_EXAMPLE], has_more: false },
  })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  list(@MerchantId() merchantId: string, @Query() query: ListEventsQueryDto): Promise<ListPage<EventDto>> {
    return this.events.list(merchantId, query);
  }

  @Get(':id')
  @RequiresScope('events:read')
  @ApiOperation({
    operationId: 'getEvent',
    summary: 'Retrieve an event.',
    description: 'An event of this merchant from the last 30 days; any other id is 404. A webhook body is exactly this object.',
  })
  @EVENT_ID
  @ApiSuccess({ status: 200, type: EventDto, description: 'The event.', example: EVENT_EXAMPLE })
  @ApiProblems(...READ_PROBLEMS, 'not_found')
  get(@MerchantId() merchantId: string, @Param('id') id: string): Promise<EventDto> {
    return this.events.get(merchantId, id);
  }

  @Post(':id/redeliver')
  @HttpCode(200)
  @RequiresScope('webhooks:manage')
  @ApiOperation({
    operationId: 'redeliverEvent',
    summary: 'Send an event again to its webhook endpoints.',
    description:
      "A new delivery, due now with the retry schedule started afresh, to every enabled endpoint subscribed to the event's type, or only to `endpoint`. Receivers see the same webhook-id again and drop it if they applied it.",
  })
  @EVENT_ID
  @IdempotencyKeyHeader()
  @ApiJsonBody({ type: RedeliverEventDto, required: false, example: { endpoint: 'we_Qm3xT0aVbN7pW4Lx9T2m' } })
  @ApiSuccess({
    status: 200,
    type: RedeliveryDto,
    description: 'The endpoints it goes to again (none when no enabled endpoint is subscribed).',
    example: { object: 'redelivery', event: EVENT_EXAMPLE.id, endpoints: ['we_Qm3xT0aVbN7pW4Lx9T2m'] },
    recorded: 'always',
  })
  @ApiProblems('validation_failed', recorded('not_found'), ...IDEMPOTENCY_PROBLEMS, ...BODY_PROBLEMS, ...AUTHENTICATED_PROBLEMS)
  redeliver(
    @Tx() tx: SqlTransaction,
    @MerchantId() merchantId: string,
    @Param('id') id: string,
    @Body() body: RedeliverEventDto,
  ): Promise<RedeliveryDto> {
    return this.events.redeliver(tx, merchantId, id, body.endpoint);
  }
}
