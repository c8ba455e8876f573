import { applyDecorators, Type } from '@nestjs/common';
import {
  ApiExtraModels,
  ApiHeader,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  type ApiResponseCommonMetadata,
  getSchemaPath,
} from '@nestjs/swagger';

type HeadersObject = NonNullable<ApiResponseCommonMetadata['headers']>;

// Shared OpenAPI decorators: every route documents its problem responses and the idempotency
// headers the same way, so generated clients can read them.

export const PROBLEM_CODES = [
  'validation_failed',
  'idempotency_key_missing',
  'idempotency_key_invalid',
  'unauthenticated',
  'insufficient_funds',
  'not_found',
  'idempotency_request_in_progress',
  'invalid_state',
  'precondition_failed',
  'payload_too_large',
  'unsupported_media_type',
  'idempotency_key_reused',
  'currency_mismatch',
  'balance_limit_exceeded',
  'precondition_required',
  'rate_limited',
  'internal_error',
  'unavailable',
] as const;

export class FieldErrorDto {
  @ApiProperty({ example: 'amount' }) field: string;
  @ApiProperty({ example: 'amount must not be less than 1' }) message: string;
}

export class ProblemDetailsDto {
  @ApiProperty({ example: 'urn:payments:problem:insufficient_funds' }) type: string;
  @ApiProperty({ example: 'Insufficient funds' }) title: string;
  @ApiProperty({ example: 402 }) status: number;
  @ApiProperty({ example: 'The source account does not have 300 usd available.' }) detail: string;
  @ApiProperty({ enum: PROBLEM_CODES, description: 'Stable machine-readable code.' }) code: string;
  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Present for validation_failed.' }) errors?: FieldErrorDto[];
}

const RETRY_AFTER: HeadersObject = {
  'Retry-After': { description: 'Seconds to wait before retrying with the same Idempotency-Key.', schema: { type: 'integer' } },
};

const PROBLEMS: Record<number, { description: string; headers?: HeadersObject }> = {
  400: {
    description:
      'validation_failed, idempotency_key_missing or idempotency_key_invalid. Not recorded: fix the request and retry with the same key.',
  },
  401: { description: 'unauthenticated: missing or unknown API key. Not recorded.' },
  402: { description: 'insufficient_funds: the source has too little available. Recorded and replayed for the key.' },
  404: { description: 'not_found: unknown id, or an object of another merchant.' },
  409: {
    description: 'idempotency_request_in_progress (not recorded; retry after Retry-After) or invalid_state (recorded).',
    headers: RETRY_AFTER,
  },
  412: {
    description:
      'precondition_failed: If-Match does not match, or If-None-Match: * and the account exists. The ETag header holds the current version.',
    headers: { ETag: { description: 'The current version.', schema: { type: 'string' } } },
  },
  413: { description: 'payload_too_large: body over 100 KiB. Not recorded.' },
  415: { description: 'unsupported_media_type: body that is not application/json. Not recorded.' },
  422: {
    description:
      "idempotency_key_reused (same key, different request; never retry with that key: a new key is a new operation), currency_mismatch (a currency that differs from the account's; recorded) or balance_limit_exceeded (the movement would take a balance past 2^53 - 1; not recorded).",
  },
  428: { description: 'precondition_required: changing an existing account needs If-Match.' },
  429: { description: 'rate_limited. Not recorded; retry after Retry-After with the same key.', headers: RETRY_AFTER },
  503: { description: 'unavailable: the database cannot be reached. Nothing was recorded; retry with the same key.', headers: RETRY_AFTER },
};

/** Documents the problem+json responses a route can give. */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ...statuses.map((status) =>
      ApiResponse({
        status,
        description: PROBLEMS[status]?.description ?? 'Problem',
        headers: PROBLEMS[status]?.headers,
        content: { 'application/problem+json': { schema: { $ref: getSchemaPath(ProblemDetailsDto) } } },
      }),
    ),
  );
}

const RECORDED_RESPONSE_HEADERS: HeadersObject = {
  'Idempotent-Replayed': {
    description:
      "'true' when this response is the recorded answer to an earlier request with the same Idempotency-Key. Absent on a first response.",
    schema: { type: 'string', enum: ['true'] },
  },
  'Idempotency-Expires': {
    description: 'HTTP-date after which the Idempotency-Key is forgotten and would be new again.',
    schema: { type: 'string' },
  },
};

export interface SuccessOptions {
  status: number;
  type: Type<unknown>;
  description: string;
  location?: boolean;
  etag?: boolean;
  /** A response recorded against an Idempotency-Key (POST, or PUT sent with a key). */
  recorded?: boolean;
}

/** Documents a success response with the headers that come with it. */
export function ApiSuccess(options: SuccessOptions): MethodDecorator {
  const headers: HeadersObject = { ...(options.recorded ? RECORDED_RESPONSE_HEADERS : {}) };
  if (options.location) headers.Location = { description: 'URL of the object.', schema: { type: 'string' } };
  if (options.etag) headers.ETag = { description: 'The version of the account, quoted: "3".', schema: { type: 'string' } };
  return ApiResponse({ status: options.status, description: options.description, type: options.type, headers });
}

/**
 * Every POST: Idempotency-Key is required, the answer is recorded and replayed, and the key can be
 * rejected (400), busy (409) or reused for another request (422).
 */
export function IdempotentOperation(options: { required: boolean } = { required: true }): MethodDecorator {
  return applyDecorators(
    ApiHeader({
      name: 'Idempotency-Key',
      required: options.required,
      description:
        '1-255 visible ASCII characters, unique per intended operation (a UUID v4 is a good choice). Retrying with the same key and the same request never repeats the effect: the recorded response is replayed. Scoped to the merchant; kept for IDEMPOTENCY_TTL_SECONDS (24 h by default).',
      schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$' },
    }),
    ApiProblems(400, 409, 422, 503),
  );
}
