import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { AmountField, amountSchema, MAX_AMOUNT, MIN_AMOUNT, NoCardNumber, OptionalNullable } from '../../common/validators.js';

export class CreateDepositDto {
  @AmountField({ description: 'Minor units.', example: 10000 })
  amount: number;

  @ApiPropertyOptional({ type: String, minLength: 1, maxLength: 500, nullable: true, example: 'Top-up' })
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
  @ApiProperty(amountSchema(MIN_AMOUNT, MAX_AMOUNT)) amount: number;
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
  @ApiProperty({
    ...amountSchema(-MAX_AMOUNT, MAX_AMOUNT),
    description: "Signed from the account's side: a deposit or refund is positive, a charge or capture negative.",
  })
  amount: number;
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ enum: ENTRY_TYPES }) type: EntryType;
  @ApiProperty({ description: 'Id of the deposit, charge or refund.' }) reference: string;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export const DEPOSIT_EXAMPLE: DepositDto = {
  id: 'dep_Qm3x9LkT2vBn8aW1',
  object: 'deposit',
  account: 'acct_9dK2mQx0aVbT7nP4',
  amount: 10000,
  currency: 'usd',
  description: 'Top-up',
  created_at: '2026-11-23T14:37:25.826Z',
};

export const ENTRY_EXAMPLE: EntryDto = {
  id: 'ent_7Hq2LwP0sZcV4nXb',
  object: 'entry',
  account: 'acct_9dK2mQx0aVbT7nP4',
  amount: -1999,
  currency: 'usd',
  type: 'charge',
  reference: 'ch_Lx9T2mQv0aBn7pW4',
  created_at: '2026-11-23T14:40:02.117Z',
};
