export interface FieldError {
  field: string;
  message: string;
}

export interface DomainErrorInit {
  status: number;
  /** Stable snake_case code from the contract's error table. */
  code: string;
  title: string;
  detail: string;
  /**
   * A business outcome of a request that started executing (402, 404 of a referenced object,
   * 409 invalid_state, 422 currency_mismatch): recorded against the Idempotency-Key and replayed.
   * Everything else (validation, auth, 409 in progress, 412/428, 429, 5xx) is not recorded, so a
   * retry with the same key runs again.
   */
  recorded?: boolean;
  headers?: Record<string, string>;
  errors?: FieldError[];
  /** card_declined: the acquirer's decline code, in the problem's body. */
  declineCode?: string;
}

/**
 * Base of every error the service answers with on purpose. Services throw subclasses
 * (`charges.errors.ts`, ...); the problem+json filter maps them to HTTP once, at the edge.
 */
export class DomainError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly recorded: boolean;
  readonly headers: Record<string, string>;
  readonly errors: FieldError[] | undefined;
  readonly declineCode: string | undefined;

  constructor(init: DomainErrorInit) {
    super(init.detail);
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code;
    this.title = init.title;
    this.recorded = init.recorded ?? false;
    this.headers = init.headers ?? {};
    this.errors = init.errors;
    this.declineCode = init.declineCode;
  }
}

export class ValidationFailedError extends DomainError {
  constructor(errors: FieldError[], detail = 'The request is not valid.') {
    super({ status: 400, code: 'validation_failed', title: 'Validation failed', detail, errors });
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id: string) {
    // Recorded: it is the outcome of looking up a referenced object.
    super({ status: 404, code: 'not_found', title: 'Not found', detail: `No such ${what}: '${id}'.`, recorded: true });
  }
}

export class RouteNotFoundError extends DomainError {
  constructor(method: string, url: string) {
    super({ status: 404, code: 'not_found', title: 'Not found', detail: `No route for ${method} ${url.split('?')[0]}.` });
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(detail = 'A valid API key is required: Authorization: Bearer <api_key>.') {
    super({ status: 401, code: 'unauthenticated', title: 'Unauthenticated', detail, headers: { 'WWW-Authenticate': 'Bearer' } });
  }
}

export class PayloadTooLargeError extends DomainError {
  constructor(limitBytes: number) {
    super({ status: 413, code: 'payload_too_large', title: 'Payload too large', detail: `The body is larger than ${limitBytes} bytes.` });
  }
}

export class UnsupportedMediaTypeError extends DomainError {
  constructor(contentType: string) {
    super({
      status: 415,
      code: 'unsupported_media_type',
      title: 'Unsupported media type',
      detail: `Bodies must be application/json, got '${contentType.slice(0, 100)}'.`,
    });
  }
}

export class UnavailableError extends DomainError {
  constructor() {
    super({
      status: 503,
      code: 'unavailable',
      title: 'Service unavailable',
      detail: 'The database cannot be reached right now. Nothing was changed; retry with the same Idempotency-Key.',
      headers: { 'Retry-After': '1' },
    });
  }
}
