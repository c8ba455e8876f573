import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsString, Length } from 'class-validator';
import { ListQueryDto } from '../../common/pagination.js';
import { Optional } from '../../common/validators.js';
import { EVENT_TYPES, type EventType } from '../event-types.js';

export class EventDataDto {
  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description:
      'The object the event is about, as the API answered it when the effect committed (a charge, a refund, a deposit, an account).',
  })
  object: Record<string, unknown>;
}

export class EventDto {
  @ApiProperty({
    example: 'evt_3kTz0q8WcXnB1vYp2LmRxQ9w',
    description: "Stable: a webhook's webhook-id is this id, the same for every attempt.",
  })
  id: string;
  @ApiProperty({ enum: ['event'] }) object: 'event';
  @ApiProperty({ enum: EVENT_TYPES }) type: EventType;
  @ApiProperty({ format: 'date-time', description: 'When the effect committed (its transaction began), by the database clock.' })
  created_at: string;
  @ApiProperty({ type: EventDataDto }) data: EventDataDto;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'The API version the data is shaped by; null: the one version there is.',
    example: null,
  })
  api_version: string | null;
}

export class ListEventsQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ enum: EVENT_TYPES, description: 'Only events of this type.' })
  @Optional()
  @IsIn(EVENT_TYPES)
  type?: EventType;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only events created at or after this time.', example: '2026-12-01T00:00:00Z' })
  @Optional()
  @IsISO8601({ strict: true })
  created_gte?: string;

  @ApiPropertyOptional({ format: 'date-time', description: 'Only events created before this time.', example: '2026-12-08T00:00:00Z' })
  @Optional()
  @IsISO8601({ strict: true })
  created_lt?: string;
}

export class RedeliverEventDto {
  @ApiPropertyOptional({
    minLength: 1,
    maxLength: 100,
    example: 'we_Qm3xT0aVbN7pW4Lx9T2m',
    description: 'Only to this endpoint (enabled, of this merchant). Left out: every enabled endpoint subscribed to the type.',
  })
  @Optional()
  @IsString()
  @Length(1, 100)
  endpoint?: string;
}

export class RedeliveryDto {
  @ApiProperty({ enum: ['redelivery'] }) object: 'redelivery';
  @ApiProperty({ example: 'evt_3kTz0q8WcXnB1vYp2LmRxQ9w' }) event: string;
  @ApiProperty({
    type: [String],
    example: ['we_Qm3xT0aVbN7pW4Lx9T2m'],
    description: 'The endpoints the event is sent to again, each as a new delivery starting the retry schedule afresh.',
  })
  endpoints: string[];
}

export const EVENT_EXAMPLE: EventDto = {
  id: 'evt_3kTz0q8WcXnB1vYp2LmRxQ9w',
  object: 'event',
  type: 'charge.succeeded',
  created_at: '2026-12-07T14:37:15.868Z',
  data: {
    object: {
      id: 'ch_Lx9T2mQv0aBn7pW4',
      object: 'charge',
      amount: 1999,
      currency: 'usd',
      source: 'acct_9dK2mQx0aVbT7nP4',
      status: 'succeeded',
      captured: true,
      amount_captured: 1999,
      amount_refunded: 0,
      refunded: false,
      description: null,
      metadata: {},
      created_at: '2026-12-07T14:37:15.868Z',
    },
  },
  api_version: null,
};
