import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsIn, IsInt, IsISO8601, IsString, Length, Max, Min } from 'class-validator';
import { NoCardNumber, Optional } from '../../common/validators.js';
import { SCOPES, type Scope } from '../scopes.js';

/** The longest overlap a roll allows: the old key works at most this long after it. */
export const MAX_ROLL_OVERLAP_SECONDS = 7 * 24 * 3600;

export const API_KEY_STATUSES = ['active', 'expired', 'revoked'] as const;
export type ApiKeyStatus = (typeof API_KEY_STATUSES)[number];

export const AUDIT_ACTIONS = ['api_key.created', 'api_key.rolled', 'api_key.revoked'] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export class CreateApiKeyDto {
  @ApiProperty({ minLength: 1, maxLength: 100, example: 'Checkout server', description: 'What the key is for, for people.' })
  @IsString()
  @Length(1, 100)
  @NoCardNumber()
  name: string;

  @ApiPropertyOptional({
    type: [String],
    enum: SCOPES,
    minItems: 1,
    maxItems: SCOPES.length,
    uniqueItems: true,
    example: ['charges:write', 'charges:read'],
    description: 'A restricted key: only these scopes. Left out: an unrestricted secret key, with every scope (present and future).',
  })
  @Optional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(SCOPES.length)
  @ArrayUnique()
  @IsIn(SCOPES, { each: true })
  scopes?: Scope[];

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2027-01-31T00:00:00Z',
    description: 'When the key stops working; in the future. Left out: never.',
  })
  @Optional()
  @IsISO8601({ strict: true })
  expires_at?: string;
}

export class RollApiKeyDto {
  @ApiProperty({
    type: 'integer',
    minimum: 0,
    maximum: MAX_ROLL_OVERLAP_SECONDS,
    example: 3600,
    description:
      'How long the old secret keeps working beside the new one, in seconds: 0 stops it at once; at most 7 days. Deploy the new secret within it.',
  })
  @IsInt()
  @Min(0)
  @Max(MAX_ROLL_OVERLAP_SECONDS)
  expires_in_seconds: number;
}

export class ApiKeyDto {
  @ApiProperty({ example: 'key_Qm3xT0aVbN7pW4Lx9T2m', description: 'Not a secret: safe to log and to show.' }) id: string;
  @ApiProperty({ enum: ['api_key'] }) object: 'api_key';
  @ApiProperty({ example: 'Checkout server' }) name: string;
  @ApiProperty({
    type: [String],
    enum: SCOPES,
    nullable: true,
    description: 'The scopes of a restricted key; null for an unrestricted secret key (every scope).',
  })
  scopes: string[] | null;
  @ApiProperty({
    type: String,
    nullable: true,
    description:
      'The secret: shown once, on the response that created it (create or roll). It is stored only as a hash, so every other response, an idempotent replay included, answers null.',
  })
  secret: string | null;
  @ApiProperty({
    example: 'sk_mer_3kTz0q8WcXnB1vYp2LmR.…XukY',
    description:
      "The key's prefix and the last four characters of its secret, to tell keys apart (keys made before keys had hints show only the prefix).",
  })
  hint: string;
  @ApiProperty({ enum: API_KEY_STATUSES, description: 'active until expires_at passes or the key is revoked.' }) status: ApiKeyStatus;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the key stops working (a rolled key: the end of the overlap).',
  })
  expires_at: string | null;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'When the key was last used, to the minute: written at most once a minute per key.',
  })
  last_used_at: string | null;
  @ApiProperty({ type: String, format: 'date-time', nullable: true }) revoked_at: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The key this one replaced by a roll.', example: null })
  rolled_from: string | null;
}

export class AuditEventDto {
  @ApiProperty({ example: 'aud_Hn2kV0qT8mWcXnB1vYp2' }) id: string;
  @ApiProperty({ enum: AUDIT_ACTIONS }) action: AuditAction;
  @ApiProperty({
    description: "Who did it: 'admin' (the admin token) or the id of the API key the request came with.",
    example: 'key_Qm3xT0aVbN7pW4Lx9T2m',
  })
  actor: string;
  @ApiProperty({
    type: String,
    nullable: true,
    description: "The request's X-Request-Id.",
    example: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b',
  })
  request_id: string | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
}

export class ApiKeyWithHistoryDto extends ApiKeyDto {
  @ApiProperty({ type: [AuditEventDto], description: 'Who created, rolled and revoked the key, oldest first.' })
  history: AuditEventDto[];
}

export const API_KEY_EXAMPLE: ApiKeyDto = {
  id: 'key_Qm3xT0aVbN7pW4Lx9T2m',
  object: 'api_key',
  name: 'Checkout server',
  scopes: ['charges:write', 'charges:read'],
  secret: 'sk_mer_3kTz0q8WcXnB1vYp2LmR.vWnfFgc1f_yfbhNWBADX7nwtMW8jMkJNum9MS5iXukY',
  hint: 'sk_mer_3kTz0q8WcXnB1vYp2LmR.…XukY',
  status: 'active',
  created_at: '2026-12-07T14:37:15.868Z',
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  rolled_from: null,
};
