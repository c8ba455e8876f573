import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsIn, IsString, Length, ValidateNested } from 'class-validator';
import { ProblemDetailsDto } from '../../common/openapi.js';
import { ListQueryDto } from '../../common/pagination.js';
import { AmountField, IsCurrency, MetadataField, NoCardNumber, Optional, OptionalNullable } from '../../common/validators.js';

export const CHARGE_STATUSES = ['authorized', 'succeeded', 'canceled'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

export class CreateChargeDto {
  @AmountField({ description: 'Minor units.', example: 1999 })
  amount: number;

  @ApiProperty({ example: 'usd', description: "ISO 4217, any case; must be the source account's currency." })
  @IsCurrency()
  currency: string;

  @ApiProperty({ description: 'Id of the account the money comes from.', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  @NoCardNumber()
  source: string;

  @ApiPropertyOptional({ default: true, description: 'false: authorise only (hold the amount) and capture later.' })
  @Optional()
  @IsBoolean()
  capture?: boolean;

  @ApiPropertyOptional({ type: String, maxLength: 500, nullable: true })
  @OptionalNullable()
  @IsString()
  @Length(1, 500)
  @NoCardNumber()
  description?: string | null;

  @MetadataField()
  metadata?: Record<string, string>;
}

export class ListChargesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'Only charges from this source account.', maxLength: 100 })
  @Optional()
  @IsString()
  @Length(1, 100)
  source?: string;
}

export class ChargeDto {
  @ApiProperty({ example: 'ch_Lx9T2mQv0aBn7pW4' }) id: string;
  @ApiProperty({ enum: ['charge'] }) object: 'charge';
  @ApiProperty() amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ description: 'The source account id.' }) source: string;
  @ApiProperty({ enum: CHARGE_STATUSES }) status: ChargeStatus;
  @ApiProperty() captured: boolean;
  @ApiProperty() amount_captured: number;
  @ApiProperty() amount_refunded: number;
  @ApiProperty({ description: 'True once the whole captured amount is refunded.' }) refunded: boolean;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) metadata: Record<string, string>;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class BalanceAmountDto {
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({
    type: 'integer',
    format: 'int64',
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
  @ApiProperty() amount: number;
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

export class BatchItemResultDto {
  @ApiProperty({ description: 'Position of the item in the request.' }) index: number;
  @ApiProperty({ description: 'The HTTP status this charge would have had alone (201, 402, 404, 422).' }) status: number;
  @ApiPropertyOptional({ type: ChargeDto }) charge?: ChargeDto;
  @ApiPropertyOptional({ type: ProblemDetailsDto }) error?: ProblemDetailsDto;
}

export class BatchResultDto {
  @ApiProperty({ enum: ['batch'] }) object: 'batch';
  @ApiProperty({ type: [BatchItemResultDto] }) results: BatchItemResultDto[];
}
