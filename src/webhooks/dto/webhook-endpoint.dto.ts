import { ApiProperty, ApiPropertyOptional, type ApiPropertyOptions } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsString, Length, Max, Min } from 'class-validator';
import { NoCardNumber, Optional, OptionalNullable } from '../../common/validators.js';
import { ALL_EVENTS, EVENT_TYPES } from '../../events/event-types.js';

/** The longest a rolled secret keeps signing beside the new one. */
export const MAX_SECRET_OVERLAP_SECONDS = 7 * 24 * 3600;

const SUBSCRIBABLE: string[] = [...EVENT_TYPES, ALL_EVENTS];
export type Subscription = (typeof EVENT_TYPES)[number] | typeof ALL_EVENTS;

export const ENDPOINT_STATUSES = ['enabled', 'disabled'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];
export const DISABLED_REASONS = ['requested', 'failing', 'gone'] as const;
export type DisabledReason = (typeof DISABLED_REASONS)[number];

const URL_PROPERTY: ApiPropertyOptions = {
  minLength: 1,
  maxLength: 2048,
  example: 'https://shop.example/webhooks',
  description:
    'Where events are POSTed: https (http only to a loopback address where the deployment sets WEBHOOK_ALLOW_HTTP_LOOPBACK). Redirects are not followed.',
};
const EVENTS_PROPERTY: ApiPropertyOptions = {
  type: [String],
  enum: SUBSCRIBABLE,
  minItems: 1,
  maxItems: SUBSCRIBABLE.length,
  uniqueItems: true,
  example: ['charge.succeeded', 'charge.refunded'],
  description: "The event types sent to this endpoint; '*' for every type, present and future.",
};

function EventsRules(): PropertyDecorator {
  return (target, property) => {
    for (const decorate of [
      IsArray(),
      ArrayMinSize(1),
      ArrayMaxSize(SUBSCRIBABLE.length),
      ArrayUnique(),
      IsIn(SUBSCRIBABLE, { each: true }),
    ])
      decorate(target, property);
  };
}

export class CreateWebhookEndpointDto {
  @ApiProperty(URL_PROPERTY)
  @IsString()
  @Length(1, 2048)
  url: string;

  @ApiProperty(EVENTS_PROPERTY)
  @EventsRules()
  events: Subscription[];

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 500, example: 'Order fulfilment', description: 'For people.' })
  @OptionalNullable()
  @IsString()
  @Length(0, 500)
  @NoCardNumber()
  description?: string | null;
}

export class UpdateWebhookEndpointDto {
  @ApiPropertyOptional(URL_PROPERTY)
  @Optional()
  @IsString()
  @Length(1, 2048)
  url?: string;

  @ApiPropertyOptional(EVENTS_PROPERTY)
  @Optional()
  @EventsRules()
  events?: Subscription[];

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 500, example: 'Order fulfilment' })
  @OptionalNullable()
  @IsString()
  @Length(0, 500)
  @NoCardNumber()
  description?: string | null;

  @ApiPropertyOptional({
    enum: ENDPOINT_STATUSES,
    description: 'enabled: deliveries resume (those still pending, and every new event); disabled: nothing is sent to it.',
  })
  @Optional()
  @IsIn(ENDPOINT_STATUSES)
  status?: EndpointStatus;
}

export class RollWebhookSecretDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: MAX_SECRET_OVERLAP_SECONDS,
    example: 86400,
    description:
      'How long the previous secret keeps signing beside the new one (every webhook carries both signatures meanwhile), in seconds: 0 stops it at once, at most 7 days. Left out: WEBHOOK_SECRET_OVERLAP_SECONDS (24 h).',
  })
  @Optional()
  @IsInt()
  @Min(0)
  @Max(MAX_SECRET_OVERLAP_SECONDS)
  expires_in_seconds?: number;
}

export class WebhookEndpointDto {
  @ApiProperty({ example: 'we_Qm3xT0aVbN7pW4Lx9T2m' }) id: string;
  @ApiProperty({ enum: ['webhook_endpoint'] }) object: 'webhook_endpoint';
  @ApiProperty({ example: 'https://shop.example/webhooks' }) url: string;
  @ApiProperty({ type: [String], enum: SUBSCRIBABLE, example: ['charge.succeeded'] }) events: Subscription[];
  @ApiProperty({ type: String, nullable: true, example: null }) description: string | null;
  @ApiProperty({ enum: ENDPOINT_STATUSES }) status: EndpointStatus;
  @ApiProperty({
    // null listed too: a nullable enum's null must be one of its values (OpenAPI 3.0), or null examples are invalid.
    enum: [...DISABLED_REASONS, null],
    nullable: true,
    description:
      'Why it is disabled: requested (by the merchant), failing (every attempt failed for the whole retry schedule, about three days), gone (it answered 410). Null when enabled.',
    example: null,
  })
  disabled_reason: DisabledReason | null;
  @ApiProperty({
    type: String,
    nullable: true,
    example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    description:
      'The signing secret (Standard Webhooks, whsec_…): shown once, on the response that made it (create, roll_secret); every other response, an idempotent replay included, answers null.',
  })
  secret: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'During a secret roll: until when the previous secret signs too. Null otherwise.',
    example: null,
  })
  previous_secret_expires_at: string | null;
  @ApiProperty({ type: 'integer', minimum: 1, example: 1, description: 'Changes with every update; its ETag.' }) version: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}

export class DeletedWebhookEndpointDto {
  @ApiProperty({ example: 'we_Qm3xT0aVbN7pW4Lx9T2m' }) id: string;
  @ApiProperty({ enum: ['webhook_endpoint'] }) object: 'webhook_endpoint';
  @ApiProperty({ enum: [true] }) deleted: true;
}

export const WEBHOOK_ENDPOINT_EXAMPLE: WebhookEndpointDto = {
  id: 'we_Qm3xT0aVbN7pW4Lx9T2m',
  object: 'webhook_endpoint',
  url: 'https://shop.example/webhooks',
  events: ['charge.succeeded', 'charge.refunded'],
  description: 'Order fulfilment',
  status: 'enabled',
  disabled_reason: null,
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  previous_secret_expires_at: null,
  version: 1,
  created_at: '2026-12-07T14:37:15.868Z',
  updated_at: '2026-12-07T14:37:15.868Z',
};
