import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { AmountField, NoCardNumber, OptionalNullable } from '../../common/validators.js';

export class CreateDepositDto {
  @AmountField({ description: 'Minor units.', example: 10000 })
  amount: number;

  @ApiPropertyOptional({ type: String, maxLength: 500, nullable: true })
  @OptionalNullable()
  @IsString()
  @Length(1, 500)
  @NoCardNumber()
  description?: string | null;
}

export class DepositDto {
  @ApiProperty({ example: 'dep_Qm3x9LkT2vBn8aW1' }) id: string;
  @ApiProperty({ enum: ['deposit'] }) object: 'deposit';
  @ApiProperty({ description: 'The account credited.' }) account: string;
  @ApiProperty() amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ type: String, nullable: true }) description: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export const ENTRY_TYPES = ['deposit', 'charge', 'capture', 'refund'] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];

export class EntryDto {
  @ApiProperty({ example: 'ent_7Hq2LwP0sZcV4nXb' }) id: string;
  @ApiProperty({ enum: ['entry'] }) object: 'entry';
  @ApiProperty() account: string;
  @ApiProperty({ description: "Signed from the account's side: a deposit or refund is positive, a charge or capture negative." })
  amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ enum: ENTRY_TYPES }) type: EntryType;
  @ApiProperty({ description: 'Id of the deposit, charge or refund.' }) reference: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}
