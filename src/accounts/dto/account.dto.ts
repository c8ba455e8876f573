import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString, Length, Matches } from 'class-validator';
import { IsCurrency, MetadataField, NoCardNumber, OptionalNullable } from '../../common/validators.js';

export const CLIENT_ACCOUNT_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Body of POST /v1/accounts and PUT /v1/accounts/{id}: the fields a client may set. */
export class AccountFieldsDto {
  @ApiProperty({ example: 'usd', description: 'ISO 4217, any case; returned lowercase. Cannot change.' })
  @IsCurrency()
  currency: string;

  @ApiPropertyOptional({ type: String, nullable: true, maxLength: 200, example: 'Alice' })
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
  @ApiProperty({ description: 'Posted funds in minor units; equals the sum of the ledger entries.' }) balance: number;
  @ApiProperty({ description: 'Funds reserved by authorised charges. Available = balance - held, never negative.' }) held: number;
  @ApiProperty({ description: 'Version of name and metadata; the ETag is this number, quoted. Money movements do not change it.' })
  version: number;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({ format: 'date-time' }) updated_at: string;
}
