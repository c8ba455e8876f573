import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { ListQueryDto } from '../../common/pagination.js';
import { IsCurrency, IsMetadata, MAX_AMOUNT, MIN_AMOUNT, NoCardNumber } from '../../common/validators.js';

export const CHARGE_STATUSES = ['authorized', 'succeeded', 'canceled'] as const;
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

export class CreateChargeDto {
  @ApiProperty({ minimum: MIN_AMOUNT, maximum: MAX_AMOUNT, example: 1999, description: 'Minor units.' })
  @IsInt()
  @Min(MIN_AMOUNT)
  @Max(MAX_AMOUNT)
  amount: number;

  @ApiProperty({ example: 'usd', description: "ISO 4217, any case; must be the source account's currency." })
  @IsCurrency()
  currency: string;

  @ApiProperty({ description: 'Id of the account the money comes from.', maxLength: 100 })
  @IsString()
  @Length(1, 100)
  source: string;

  @ApiPropertyOptional({ default: true, description: 'false: authorise only (hold the amount) and capture later.' })
  @IsOptional()
  @IsBoolean()
  capture?: boolean;

  @ApiPropertyOptional({ type: String, maxLength: 500, nullable: true })
  @IsOptional()
  @IsString()
  @Length(1, 500)
  @NoCardNumber()
  description?: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 500 },
    maxProperties: 20,
    description: 'At most 20 keys of at most 40 characters; string values of at most 500.',
  })
  @IsOptional()
  @IsMetadata()
  metadata?: Record<string, string>;
}

export class ListChargesQueryDto extends ListQueryDto {
  @ApiPropertyOptional({ description: 'Only charges from this source account.', maxLength: 100 })
  @IsOptional()
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
  @ApiProperty() amount: number;
}

export class BalanceDto {
  @ApiProperty({ enum: ['balance'] }) object: 'balance';
  @ApiProperty({ type: [BalanceAmountDto], description: 'Captured funds net of refunds, per currency.' })
  available: BalanceAmountDto[];
  @ApiProperty({ type: [BalanceAmountDto], description: 'Authorised, not yet captured, per currency.' })
  pending: BalanceAmountDto[];
}
