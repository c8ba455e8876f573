import { applyDecorators, Type } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiHeader,
  ApiParam,
  ApiProperty,
  ApiPropertyOptional,
  ApiResponse,
  type ApiResponseCommonMetadata,
  ApiSecurity,
  getSchemaPath,
  type HeaderObject,
  type OpenAPIObject,
  type OperationObject,
  type ReferenceObject,
  type SchemaObject,
} from '@nestjs/swagger';
import type { FieldError } from './domain-error.js';
import { problemTypeUri, type ProblemBody } from './problem.js';

type HeadersObject = NonNullable<ApiResponseCommonMetadata['headers']>;

// The OpenAPI document says exactly what the service answers: every status of every operation,
// every header, every body. The decorators here describe one operation each; finishDocument()
// adds what the service does for every request (X-Request-Id) and what Nest cannot express.

/**
 * Response headers, declared once under components.headers and referenced by name. `required`
 * is what holds wherever the header is declared; headerRef() writes out the exceptions.
 */
const RESPONSE_HEADERS = {
  'X-Request-Id': {
    required: true,
    description:
      "The request's id, also in the service's logs: the caller's X-Request-Id when it is 1-128 of A-Z a-z 0-9 . _ : - and holds no secret (an API key, the bearer token of the request), otherwise a new UUID. Quote it when asking about a request.",
    schema: { type: 'string', example: '1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b' },
  },
  'Idempotency-Expires': {
    required: false,
    description:
      'On every response recorded against the Idempotency-Key (first and replayed): the HTTP-date after which the key is forgotten and would be new again. Until then a retry with the key gets this same answer.',
    schema: { type: 'string', example: 'Tue, 24 Nov 2026 14:37:15 GMT' },
  },
  'Idempotent-Replayed': {
    required: false,
    description: "'true' when this is the recorded answer to an earlier request with the same Idempotency-Key; absent on a first answer.",
    schema: { type: 'string', enum: ['true'] },
  },
  'Retry-After': {
    required: true,
    description: 'Seconds to wait before retrying with the same Idempotency-Key and body.',
    schema: { type: 'integer', minimum: 1, example: 1 },
  },
  'WWW-Authenticate': {
    required: true,
    description: 'The authentication scheme the service takes: Bearer.',
    schema: { type: 'string', enum: ['Bearer'] },
  },
  ETag: {
    required: true,
    description: 'The version of the account, quoted (strong): "3". On a 412 for an absent account it is "0".',
    schema: { type: 'string', pattern: '^"[0-9]+"$', example: '"3"' },
  },
  Location: {
    required: true,
    description: 'Path of the object.',
    schema: { type: 'string', example: '/v1/charges/ch_Lx9T2mQv0aBn7pW4' },
  },
} satisfies Record<string, HeaderObject>;

export type ResponseHeaderName = keyof typeof RESPONSE_HEADERS;

function headerRef(name: ResponseHeaderName, required: boolean): HeaderObject | ReferenceObject {
  // A $ref cannot override `required`: a header required here but not in general (or the other
  // way round) is written out in full.
  const header: HeaderObject = RESPONSE_HEADERS[name];
  return header.required === required ? { $ref: `#/components/headers/${name}` } : { ...header, required };
}

// ---------------------------------------------------------------------------------------------
// Problems

interface ProblemInfo {
  status: number;
  title: string;
  /** What it means and what a client does about it, for the response's description. */
  meaning: string;
  /** An example detail, as the service writes it. */
  detail: string;
  errors?: FieldError[];
  /** Headers that every such answer carries. */
  headers?: ResponseHeaderName[];
}

/** Every problem code of the contract: its one status, and how a client should read it. */
const PROBLEMS = {
  validation_failed: {
    status: 400,
    title: 'Validation failed',
    meaning: 'the path, query or body is not valid; `errors` says which field and why. Not recorded: fix the request.',
    detail: 'The request is not valid.',
    errors: [{ field: 'amount', message: 'amount must not be less than 1' }],
  },
  idempotency_key_missing: {
    status: 400,
    title: 'Idempotency-Key missing',
    meaning: 'a POST without an Idempotency-Key header. Not recorded.',
    detail: 'Every POST needs an Idempotency-Key header (1-255 visible ASCII characters, e.g. a UUID).',
  },
  idempotency_key_invalid: {
    status: 400,
    title: 'Idempotency-Key invalid',
    meaning: 'the Idempotency-Key is empty, longer than 255 characters, not visible ASCII, or sent twice. Not recorded.',
    detail: 'The Idempotency-Key must be 1-255 visible ASCII characters (0x21-0x7E), sent once.',
  },
  unauthenticated: {
    status: 401,
    title: 'Unauthenticated',
    meaning: 'a missing or unknown key in `Authorization: Bearer`. Not recorded.',
    detail: 'A valid API key is required: Authorization: Bearer <api_key>.',
    headers: ['WWW-Authenticate'],
  },
  insufficient_scope: {
    status: 403,
    title: 'Insufficient scope',
    meaning:
      "the API key is a restricted key without the scope this operation needs (the operation's x-required-scope, named in the detail). Not recorded: use a key with that scope.",
    detail: "This API key does not have the scope 'charges:write' that this operation needs.",
  },
  insufficient_funds: {
    status: 402,
    title: 'Insufficient funds',
    meaning: 'the source has too little available (balance - held). Recorded: the key keeps this answer even after a top-up.',
    detail: 'The source account does not have 300 usd available.',
  },
  not_found: {
    status: 404,
    title: 'Not found',
    meaning: 'an unknown id, an object of another merchant, or a path id over 100 characters.',
    detail: "No such charge: 'ch_Lx9T2mQv0aBn7pW4'.",
  },
  idempotency_request_in_progress: {
    status: 409,
    title: 'Request in progress',
    meaning:
      'a request with the same key is still running (the service waited 1 s for it). Not recorded: retry with the same key and body after Retry-After.',
    detail: 'A request with this Idempotency-Key is still being processed. Retry with the same key after Retry-After.',
    headers: ['Retry-After'],
  },
  invalid_state: {
    status: 409,
    title: 'Invalid state',
    meaning: 'the charge is not in a state that allows this (see the lifecycle). Recorded.',
    detail: 'Only an authorized charge can be captured; this one is succeeded.',
  },
  precondition_failed: {
    status: 412,
    title: 'Precondition failed',
    meaning:
      'If-Match does not match the current version, If-Match was sent for an absent account, or If-None-Match: * for a present one. ETag holds the current version. Not recorded.',
    detail: 'If-Match does not match the current version of the account.',
    headers: ['ETag'],
  },
  payload_too_large: {
    status: 413,
    title: 'Payload too large',
    meaning: 'a body over 100 KiB. Not recorded.',
    detail: 'The body is larger than 102400 bytes.',
  },
  unsupported_media_type: {
    status: 415,
    title: 'Unsupported media type',
    meaning: 'a body that is not application/json. Not recorded.',
    detail: "Bodies must be application/json, got 'text/plain'.",
  },
  idempotency_key_reused: {
    status: 422,
    title: 'Idempotency-Key reused',
    meaning:
      'the key was used for a different request (method, path or body). Never retry with that key; a new key is a new operation. Not recorded.',
    detail: 'This Idempotency-Key was used for a different request (method, path or body). Use a new key for a new request.',
  },
  currency_mismatch: {
    status: 422,
    title: 'Currency mismatch',
    meaning: "a currency that differs from the account's. Recorded.",
    detail: "The charge is in 'eur' but the source account holds 'usd'.",
  },
  last_managing_key: {
    status: 422,
    title: 'Last key that can manage keys',
    meaning:
      'revoking this key would leave the merchant without a key that can manage keys (keys:manage) and does not expire. Not recorded: create or roll a key first.',
    detail: "Key 'key_Qm3xT0aVbN7pW4Lx9T2m' is the merchant's last key that can manage keys and does not expire; create another one first.",
  },
  webhook_url_not_allowed: {
    status: 422,
    title: 'Webhook URL not allowed',
    meaning:
      'a webhook endpoint URL must be https (http only to a loopback address, and only where the deployment sets WEBHOOK_ALLOW_HTTP_LOOPBACK). Not recorded: send an allowed URL.',
    detail: "A webhook endpoint must be an https:// URL; got 'http://shop.example/webhooks'.",
  },
  balance_limit_exceeded: {
    status: 422,
    title: 'Balance limit exceeded',
    meaning: "the movement would take the account's balance past 2^53 - 1. Not recorded.",
    detail: "This would take the account's balance past the largest amount the API can represent (9007199254740991).",
  },
  precondition_required: {
    status: 428,
    title: 'Precondition required',
    meaning: 'changing an existing account needs If-Match; ETag holds the current version. Not recorded.',
    detail: 'Changing an existing account needs If-Match with its current ETag.',
    headers: ['ETag'],
  },
  rate_limited: {
    status: 429,
    title: 'Too many requests',
    meaning: 'more than RATE_LIMIT_PER_SECOND requests per second with this key. Not recorded: retry after Retry-After with the same key.',
    detail: 'This API key sent more than its requests per second. Retry after 1 s with the same Idempotency-Key.',
    headers: ['Retry-After'],
  },
  card_declined: {
    status: 402,
    title: 'Card declined',
    meaning:
      'the acquirer declined the card; `decline_code` is its reason (insufficient_funds, generic_decline, expired_card, do_not_honor, processing_error, ...). Recorded: the charge is failed and the key keeps this answer.',
    detail: 'The card was declined (insufficient_funds).',
  },
  acquirer_unavailable: {
    status: 503,
    title: 'Acquirer unavailable',
    meaning:
      'the card acquirer is failing right now (its circuit is open) and nothing was sent to it. Not recorded: retry with the same key and body after Retry-After.',
    detail: 'The card acquirer cannot be reached right now. Nothing was sent to it; retry with the same Idempotency-Key.',
    headers: ['Retry-After'],
  },
  internal_error: {
    status: 500,
    title: 'Internal error',
    meaning: 'an unexpected failure; the detail holds only the request id. Nothing was recorded: retry with the same key.',
    detail:
      'Something went wrong on our side (request 1b4e28ba-2fa1-4d3b-a3f5-ef19b5a7633b). Nothing was recorded for the Idempotency-Key; retry with the same key.',
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    meaning: 'the database cannot be reached. Nothing was recorded: retry with the same key after Retry-After.',
    detail: 'The database cannot be reached right now. Nothing was changed; retry with the same Idempotency-Key.',
    headers: ['Retry-After'],
  },
} satisfies Record<string, ProblemInfo>;

export type ProblemCode = keyof typeof PROBLEMS;
export const PROBLEM_CODES = Object.keys(PROBLEMS) as ProblemCode[];

/** Business outcomes that are recorded against the Idempotency-Key once the operation started. */
export const RECORDABLE_CODES = [
  'insufficient_funds',
  'not_found',
  'invalid_state',
  'currency_mismatch',
  'card_declined',
] as const satisfies ProblemCode[];
export type RecordableCode = (typeof RECORDABLE_CODES)[number];

/** A problem an operation answers with, recorded against its key (the idempotency headers come with it). */
export interface RecordedProblem {
  code: RecordableCode;
  recorded: true;
}

export function recorded(code: RecordableCode): RecordedProblem {
  return { code, recorded: true };
}

export type ProblemSpec = ProblemCode | RecordedProblem;

/** The problems any route that touches the database can answer. */
export const SERVER_PROBLEMS = ['internal_error', 'unavailable'] as const satisfies ProblemCode[];
/** Authenticated routes (an API key or the admin token), rate limited per key. */
export const AUTHENTICATED_PROBLEMS = ['unauthenticated', 'rate_limited', ...SERVER_PROBLEMS] as const satisfies ProblemCode[];
/** What the Idempotency-Key of a POST (or a PUT sent with one) can be answered with. */
export const IDEMPOTENCY_PROBLEMS = [
  'idempotency_key_missing',
  'idempotency_key_invalid',
  'idempotency_request_in_progress',
  'idempotency_key_reused',
] as const satisfies ProblemCode[];
/** Routes that read a body. */
export const BODY_PROBLEMS = ['payload_too_large', 'unsupported_media_type'] as const satisfies ProblemCode[];

export class FieldErrorDto {
  @ApiProperty({ example: 'amount' }) field: string;
  @ApiProperty({ example: 'amount must not be less than 1' }) message: string;
}

export class ProblemDetailsDto {
  @ApiProperty({ example: 'urn:payments:problem:insufficient_funds', description: 'urn:payments:problem:<code>' }) type: string;
  @ApiProperty({ example: 'Insufficient funds' }) title: string;
  @ApiProperty({ type: 'integer', minimum: 400, maximum: 599, example: 402, description: 'The HTTP status.' }) status: number;
  @ApiProperty({ example: 'The source account does not have 300 usd available.' }) detail: string;
  @ApiProperty({ enum: PROBLEM_CODES, description: 'Stable machine-readable code; each has one status.' }) code: string;
  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'Which fields failed: validation_failed, currency_mismatch of a PUT.' })
  errors?: FieldErrorDto[];
  @ApiPropertyOptional({ description: "card_declined only: the acquirer's reason.", example: 'insufficient_funds' })
  decline_code?: string;
}

/** The headers every answer with this code carries, as documented. */
export function problemHeaders(code: ProblemCode): string[] {
  return [...((PROBLEMS[code] as ProblemInfo).headers ?? [])];
}

export function exampleProblem(code: ProblemCode): ProblemBody {
  const info: ProblemInfo = PROBLEMS[code];
  const body: ProblemBody = { type: problemTypeUri(code), title: info.title, status: info.status, detail: info.detail, code };
  if (info.errors) body.errors = info.errors;
  return body;
}

/**
 * Documents every problem+json answer of an operation, one response per status, with each code's
 * meaning, an example per code and the headers that come with it. List all of an operation's
 * problems in one ApiProblems: responses of one status are not merged across decorators.
 */
export function ApiProblems(...specs: readonly ProblemSpec[]): MethodDecorator {
  const byStatus = new Map<number, { code: ProblemCode; recorded: boolean }[]>();
  for (const spec of specs) {
    const problem = typeof spec === 'string' ? { code: spec, recorded: false } : { code: spec.code, recorded: true };
    const status = PROBLEMS[problem.code].status;
    const group = byStatus.get(status) ?? [];
    if (group.some((existing) => existing.code === problem.code)) throw new Error(`ApiProblems: ${problem.code} listed twice`);
    byStatus.set(status, [...group, problem]);
  }
  return applyDecorators(
    ApiExtraModels(ProblemDetailsDto),
    ...[...byStatus.entries()].map(([status, problems]) => {
      const headers: HeadersObject = {};
      const named = new Set(problems.flatMap(({ code }) => (PROBLEMS[code] as ProblemInfo).headers ?? []));
      for (const name of named) {
        // Required when every code of this status carries it.
        headers[name] = headerRef(
          name,
          problems.every(({ code }) => ((PROBLEMS[code] as ProblemInfo).headers ?? []).includes(name)),
        );
      }
      if (problems.some((problem) => problem.recorded)) {
        headers['Idempotency-Expires'] = headerRef('Idempotency-Expires', false);
        headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed', false);
      }
      const description = problems
        .map(({ code, recorded: isRecorded }) => {
          const meaning = PROBLEMS[code].meaning;
          // not_found is recorded only as the outcome of looking up a referenced object.
          const note = isRecorded && code === 'not_found' ? ' Recorded when it is the outcome of the operation.' : '';
          return `\`${code}\`: ${meaning}${note}`;
        })
        .join('\n\n');
      return ApiResponse({
        status,
        description,
        headers,
        content: {
          'application/problem+json': {
            schema: { $ref: getSchemaPath(ProblemDetailsDto) },
            examples: Object.fromEntries(
              problems.map(({ code }) => [code, { summary: PROBLEMS[code].title, value: exampleProblem(code) }]),
            ),
          },
        },
      });
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Successes, bodies, parameters

export interface SuccessOptions<T> {
  status: number;
  type: Type<T>;
  description: string;
  example: T;
  location?: boolean;
  etag?: boolean;
  /**
   * Recorded against the Idempotency-Key: `always` for a POST (the key is required), `with-key`
   * for a PUT, which is recorded only when sent with a key.
   */
  recorded?: 'always' | 'with-key';
}

/** Documents a success response with the headers that come with it. */
export function ApiSuccess<T>(options: SuccessOptions<T>): MethodDecorator {
  const headers: HeadersObject = {};
  if (options.recorded) {
    headers['Idempotency-Expires'] = headerRef('Idempotency-Expires', options.recorded === 'always');
    headers['Idempotent-Replayed'] = headerRef('Idempotent-Replayed', false);
  }
  if (options.location) headers.Location = headerRef('Location', true);
  if (options.etag) headers.ETag = headerRef('ETag', true);
  return ApiResponse({ status: options.status, description: options.description, type: options.type, headers, example: options.example });
}

/**
 * A 202 with the object still pending (a card charge waiting for its acquirer): not recorded, with
 * Location to poll and Retry-After.
 */
export function ApiAccepted<T>(options: { type: Type<T>; description: string; example: T }): MethodDecorator {
  return ApiResponse({
    status: 202,
    description: options.description,
    type: options.type,
    headers: { Location: headerRef('Location', true), 'Retry-After': headerRef('Retry-After', true) },
    example: options.example,
  });
}

/** The JSON body of an operation, closed (finishDocument), with an example. */
export function ApiJsonBody<T>(options: { type: Type<T>; required: boolean; description?: string; example: T }): MethodDecorator {
  return applyDecorators(
    ApiExtraModels(options.type),
    ApiBody({
      required: options.required,
      description: options.description,
      schema: { $ref: getSchemaPath(options.type) },
      examples: { example: { summary: 'A request', value: options.example } },
    }),
  );
}

/** The `{id}` of a path. */
export function ApiIdParam(description: string, example: string): MethodDecorator {
  return ApiParam({ name: 'id', description, schema: { type: 'string', minLength: 1, example } });
}

/**
 * Every POST: the Idempotency-Key. Retrying with the same key and request never repeats the
 * effect. List IDEMPOTENCY_PROBLEMS among the operation's problems.
 */
export function IdempotencyKeyHeader(options: { required: boolean } = { required: true }): MethodDecorator {
  return ApiHeader({
    name: 'Idempotency-Key',
    required: options.required,
    description:
      '1-255 visible ASCII characters, unique per intended operation (a UUID v4 is a good choice). Retrying with the same key and the same request never repeats the effect: the recorded response is replayed. Scoped to the merchant; kept for IDEMPOTENCY_TTL_SECONDS (24 h by default).',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7E]+$', example: '4b1d3f0e-8c2a-4e55-9b7a-2f6d1c0e9a11' },
  });
}

/** No authentication: `security: []` in the document (see finishDocument). */
export const ApiNoAuth = () => ApiSecurity({});

// ---------------------------------------------------------------------------------------------
// The whole document

function isReference(value: unknown): value is ReferenceObject {
  return typeof value === 'object' && value !== null && '$ref' in value;
}

/**
 * What the decorators cannot say, added to the document Nest builds:
 * - X-Request-Id on every response (a Fastify hook sets it on every request);
 * - `security: []` on public operations (Nest drops an empty list, so ApiNoAuth() writes [{}]);
 * - `additionalProperties: false` on every request schema (the ValidationPipe refuses unknown
 *   fields with forbidNonWhitelisted, nested ones included);
 * - the shared response headers under components.headers.
 */
export function finishDocument(document: OpenAPIObject): OpenAPIObject {
  document.components = { ...document.components, headers: { ...RESPONSE_HEADERS } };
  const schemas = document.components.schemas ?? {};
  const closed = new Set<string>();
  const close = (schema: SchemaObject | ReferenceObject | undefined): void => {
    if (!schema) return;
    if (isReference(schema)) {
      const name = schema.$ref.replace('#/components/schemas/', '');
      if (closed.has(name)) return;
      closed.add(name);
      close(schemas[name]);
      return;
    }
    if (schema.properties && schema.additionalProperties === undefined) schema.additionalProperties = false;
    for (const property of Object.values(schema.properties ?? {})) close(property);
    close(schema.items);
    for (const part of [...(schema.allOf ?? []), ...(schema.oneOf ?? []), ...(schema.anyOf ?? [])]) close(part);
  };

  for (const pathItem of Object.values(document.paths)) {
    for (const operation of Object.values(pathItem) as OperationObject[]) {
      const [requirement, ...others] = operation.security ?? [];
      if (requirement && others.length === 0 && Object.keys(requirement).length === 0) operation.security = [];
      const body = operation.requestBody;
      if (body && !isReference(body)) for (const media of Object.values(body.content)) close(media.schema);
      for (const response of Object.values(operation.responses)) {
        if (!response || isReference(response)) continue;
        response.headers = { 'X-Request-Id': headerRef('X-Request-Id', true), ...response.headers };
      }
    }
  }
  return document;
}
