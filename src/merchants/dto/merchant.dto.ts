import { ApiProperty } from '@nestjs/swagger';
import { IsString, Length } from 'class-validator';
import { NoCardNumber } from '../../common/validators.js';

export class CreateMerchantDto {
  @ApiProperty({ minLength: 1, maxLength: 200, example: 'Acme Books' })
  @IsString()
  @Length(1, 200)
  @NoCardNumber()
  name: string;
}

export class MerchantDto {
  @ApiProperty({ example: 'mer_3kTz0q8WcXnB1vYp2LmR' }) id: string;
  @ApiProperty({ enum: ['merchant'] }) object: 'merchant';
  @ApiProperty() name: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The secret API key: shown once, on the first response. It is stored only as a hash, so an idempotent replay of this request answers null.',
  })
  api_key: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export const MERCHANT_EXAMPLE: MerchantDto = {
  id: 'mer_3kTz0q8WcXnB1vYp2LmR',
  object: 'merchant',
  name: 'Acme Books',
  api_key: 'sk_mer_3kTz0q8WcXnB1vYp2LmR.vWnfFgc1f_yfbhNWBADX7nwtMW8jMkJNum9MS5iXukY',
  created_at: '2026-11-23T14:37:15.868Z',
};
