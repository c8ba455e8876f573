import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsString,
  Length,
  Matches,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { ProblemDetailsDto } from '../../common/openapi.js';
import { ListQueryDto } from '../../common/pagination.js';
import {
  AmountField,
  amountSchema,
  IsCurrency,
  MAX_AMOUNT,
  MetadataField,
  MIN_AMOUNT,
  NoCardNumber,
  Optional,
  OptionalNullable,
} from '../../common/validators.js';

/** A card's payment method as the acquirer knows it: pm_ and letters, digits, _ (at most 100 characters). */
export const PAYMENT_METHOD_PATTERN = /^pm_[A-Za-z0-9_]{1,97}$/;

export const CHARGE_STATUSES = ['authorized', 'succeeded', 'canceled', 'pending', 'failed'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

export class CreateChargeDto {
  @AmountField({ description: 'Minor units.', example: 1999 })
  amount: number;

  @ApiProperty({ example: 'usd', description: "ISO 4217, any case; must be the source account's currency." })
  @IsCurrency()
  currency: string;

  @ApiPropertyOptional({
    description: 'Id of the account the money comes from. Exactly one of source and payment_method.',
    minLength: 1,
    maxLength: 100,
    example: 'acct_9dK2mQx0aVbT7nP4',
  })
  @ValidateIf((body: CreateChargeDto) => body.payment_method === undefined || body.source !== undefined)
  @IsString()
  @Length(1, 100)
  @NoCardNumber()
  source?: string;

  @ApiPropertyOptional({
    description:
      'A card to charge through the acquirer (pm_...; test cards pm_test_..., see the acquirer). Exactly one of source and payment_method. A card charge is captured at once (capture false is refused) and may answer 202 pending.',
    pattern: PAYMENT_METHOD_PATTERN.source,
    maxLength: 100,
    example: 'pm_test_ok',
  })
  @ValidateIf((body: CreateChargeDto) => body.payment_method !== undefined)
  @IsString()
  @Matches(PAYMENT_METHOD_PATTERN, { message: 'payment_method must be pm_ followed by 1-97 letters, digits or _' })
  payment_method?: string;

  // No `default` in the schema: generators would make the field required. The default is in words.
  @ApiPropertyOptional({
    description:
      'true (the default when left out): capture at once, status succeeded. false: authorise only (hold the amount) and capture later.',
    example: true,
  })
  @Optional()
  @IsBoolean()
  capture?: boolean;

  @ApiPropertyOptional({ type: String, minLength: 1, maxLength: 500, nullable: true, example: 'Order 42' })
  @OptionalNullable()
  @IsString()
  @Length(1, 500)
  @NoCardNumber()
  description?: string | null;

  @MetadataField()
  metadata?: Record<string, string>;
}

export class ListChargesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({
    description: 'Only charges from this source account.',
    minLength: 1,
    maxLength: 100,
    example: 'acct_9dK2mQx0aVbT7nP4',
  })
  @Optional()
  @IsString()
  @Length(1, 100)
  source?: string;
}

export class ChargeDto {
  @ApiProperty({ example: 'ch_Lx9T2mQv0aBn7pW4' }) id: string;
  @ApiProperty({ enum: ['charge'] }) object: 'charge';
  @ApiProperty(amountSchema(MIN_AMOUNT, MAX_AMOUNT)) amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ type: String, nullable: true, description: 'The source account id; null for a card charge.' }) source: string | null;
  @ApiProperty({
    enum: CHARGE_STATUSES,
    description:
      'pending: a card charge whose acquirer has not answered definitively yet (poll, or repeat the POST with its key); failed: a declined card charge.',
  })
  status: ChargeStatus;
  @ApiProperty() captured: boolean;
  @ApiProperty({ ...amountSchema(0, MAX_AMOUNT), description: 'What was captured: the amount, part of it, or 0.' }) amount_captured: number;
  @ApiProperty({ ...amountSchema(0, MAX_AMOUNT), description: 'The sum of the refunds, at most amount_captured.' })
  amount_refunded: number;
  @ApiProperty({ description: 'True once the whole captured amount is refunded.' }) refunded: boolean;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) metadata: Record<string, string>;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiPropertyOptional({ description: 'A card charge only: the card it was charged to.', example: 'pm_test_ok' }) payment_method?: string;
  @ApiPropertyOptional({ type: String, nullable: true, description: "A card charge only: the acquirer's decline code when failed." })
  decline_code?: string | null;
}

export class BalanceAmountDto {
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({
    type: 'integer',
    format: 'int64',
    minimum: 0,
    description:
      'Exact. A total can pass 2^53 - 1 (a single amount never does): parse it with a JSON parser that keeps big integers exact (in JavaScript, a reviver with BigInt) if your merchant can reach that.',
  })
  amount: number;
}

export class BalanceDto {
  @ApiProperty({ enum: ['balance'] }) object: 'balance';
  @ApiProperty({ type: [BalanceAmountDto], description: 'Captured funds net of refunds, per currency.' })
  available: BalanceAmountDto[];
  @ApiProperty({ type: [BalanceAmountDto], description: 'Authorised, not yet captured, per currency.' })
  pending: BalanceAmountDto[];
}

export class CaptureChargeDto {
  @AmountField({ optional: true, description: 'At most the authorised amount; default all of it. The rest is released.' })
  amount?: number;
}

/** The body of a cancel, for the document only: no fields (the handler refuses any, see assertNoFields). */
export class CancelChargeDto {}

export const REFUND_REASONS = ['duplicate', 'fraudulent', 'requested_by_customer'] as const;

export class CreateRefundDto {
  @AmountField({ optional: true, description: 'Default: all that is left to refund.' })
  amount?: number;

  @ApiPropertyOptional({ enum: REFUND_REASONS })
  @Optional()
  @IsIn(REFUND_REASONS)
  reason?: (typeof REFUND_REASONS)[number];
}

export class RefundDto {
  @ApiProperty({ example: 're_Tq8Lm2xV0aBn7pW4' }) id: string;
  @ApiProperty({ enum: ['refund'] }) object: 'refund';
  @ApiProperty({ description: 'The refunded charge.' }) charge: string;
  @ApiProperty(amountSchema(MIN_AMOUNT, MAX_AMOUNT)) amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ enum: REFUND_REASONS, nullable: true }) reason: string | null;
  @ApiProperty({ enum: ['succeeded'] }) status: 'succeeded';
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export const MAX_BATCH_ITEMS = 100;

export class BatchChargesDto {
  @ApiProperty({
    type: [CreateChargeDto],
    minItems: 1,
    maxItems: MAX_BATCH_ITEMS,
    description: 'Charge requests, each exactly as for POST /v1/charges.',
  })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH_ITEMS)
  @ValidateNested({ each: true })
  @Type(() => CreateChargeDto)
  charges: CreateChargeDto[];
}

/** The status a batch item can have: 201, or a recorded business problem of POST /v1/charges. */
export const BATCH_ITEM_STATUSES = [201, 402, 404, 422] as const;

export class BatchItemResultDto {
  @ApiProperty({ type: 'integer', minimum: 0, maximum: MAX_BATCH_ITEMS - 1, description: 'Position of the item in the request.' })
  index: number;
  @ApiProperty({
    type: 'integer',
    enum: BATCH_ITEM_STATUSES,
    description:
      'The HTTP status this charge would have had alone: 201, or 402 insufficient_funds, 404 not_found (the source), 422 currency_mismatch.',
  })
  status: number;
  @ApiPropertyOptional({ type: ChargeDto, description: 'The charge, when status is 201.' }) charge?: ChargeDto;
  @ApiPropertyOptional({ type: ProblemDetailsDto, description: 'The problem, when status is not 201.' }) error?: ProblemDetailsDto;
}

export class BatchResultDto {
  @ApiProperty({ enum: ['batch'] }) object: 'batch';
  @ApiProperty({ type: [BatchItemResultDto] }) results: BatchItemResultDto[];
}

// Examples for the document: typed as the DTOs, so they follow the fields; the linters check them
// against the schemas.

export const CREATE_CHARGE_EXAMPLE: CreateChargeDto = {
  amount: 1999,
  currency: 'usd',
  source: 'acct_9dK2mQx0aVbT7nP4',
  description: 'Order 42',
  metadata: { order_id: '42' },
};

export const CHARGE_EXAMPLE: ChargeDto = {
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
  description: 'Order 42',
  metadata: { order_id: '42' },
  created_at: '2026-11-23T14:37:25.826Z',
};

export const REFUND_EXAMPLE: RefundDto = {
  id: 're_Tq8Lm2xV0aBn7pW4',
  object: 'refund',
  charge: 'ch_Lx9T2mQv0aBn7pW4',
  amount: 500,
  currency: 'usd',
  reason: 'requested_by_customer',
  status: 'succeeded',
  created_at: '2026-11-23T15:02:11.204Z',
};

export const BALANCE_EXAMPLE: BalanceDto = {
  object: 'balance',
  available: [{ currency: 'usd', amount: 1499 }],
  pending: [{ currency: 'usd', amount: 2000 }],
};

export const BATCH_EXAMPLE: BatchChargesDto = {
  charges: [CREATE_CHARGE_EXAMPLE, { amount: 250000, currency: 'usd', source: 'acct_9dK2mQx0aVbT7nP4' }],
};

export const BATCH_RESULT_EXAMPLE: BatchResultDto = {
  object: 'batch',
  results: [
    { index: 0, status: 201, charge: CHARGE_EXAMPLE },
    {
      index: 1,
      status: 402,
      error: {
        type: 'urn:payments:problem:insufficient_funds',
        title: 'Insufficient funds',
        status: 402,
        detail: 'The source account does not have 250000 usd available.',
        code: 'insufficient_funds',
      },
    },
  ],
};
