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
