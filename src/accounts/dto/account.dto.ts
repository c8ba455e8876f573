import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { IsCurrency, MetadataField, NoCardNumber, OptionalNullable } from '../../common/validators.js';

export const CLIENT_ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Body of POST /v1/accounts and PUT /v1/accounts/{id}: the fields a client may set. */
export class AccountFieldsDto {
  @ApiProperty({ example: 'usd', description: 'ISO 4217, any case; returned lowercase. Cannot change.' })
  @IsCurrency()
  currency: string;

  @ApiPropertyOptional({ type: String, nullable: true, minLength: 1, maxLength: 200, example: 'Alice' })
  @OptionalNullable()
  @IsString()
  @Length(1, 200)
  @NoCardNumber()
  name?: string | null;

  @MetadataField()
  metadata?: Record<string, string>;
}

export class AccountIdParam {
  @ApiProperty({ pattern: CLIENT_ACCOUNT_ID.source, example: 'customer-42' })
  @IsString()
  @Matches(CLIENT_ACCOUNT_ID, { message: 'id must match ^[A-Za-z0-9_-]{1,64}$' })
  @NoCardNumber()
  id: string;
}

export class AccountDto {
  @ApiProperty({ example: 'acct_9dK2mQx0aVbT7nP4' }) id: string;
  @ApiProperty({ enum: ['account'] }) object: 'account';
  @ApiProperty({ example: 'usd' }) currency: string;
  @ApiProperty({ type: String, nullable: true }) name: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } }) metadata: Record<string, string>;
  @ApiProperty({
    type: 'integer',
    format: 'int64',
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER, // accounts_balance_safe_range
    description: 'Posted funds in minor units; equals the sum of the ledger entries.',
  })
  balance: number;
  @ApiProperty({
    type: 'integer',
    format: 'int64',
    minimum: 0,
    maximum: Number.MAX_SAFE_INTEGER, // accounts_balance_safe_range
    description: 'Funds reserved by authorised charges. Available = balance - held, never negative.',
  })
  held: number;
  @ApiProperty({
    type: 'integer',
    minimum: 1,
    description: 'Version of name and metadata; the ETag is this number, quoted. Money movements do not change it.',
  })
  version: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}

export const ACCOUNT_FIELDS_EXAMPLE: AccountFieldsDto = { currency: 'usd', name: 'Alice', metadata: { customer: '42' } };

export const ACCOUNT_EXAMPLE: AccountDto = {
  id: 'acct_9dK2mQx0aVbT7nP4',
  object: 'account',
  currency: 'usd',
  name: 'Alice',
  metadata: { customer: '42' },
  balance: 10000,
  held: 2000,
  version: 1,
  created_at: '2026-11-23T14:37:25.826Z',
  updated_at: '2026-11-23T14:37:25.826Z',
};
