import { ValidationError, ValidationPipe } from '@nestjs/common';
import { FieldError, ValidationFailedError } from './domain-error.js';

function flatten(errors: ValidationError[], parent = ''): FieldError[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {}).map((message) => ({ field, message: message.replace(/^property /, '') }));
    return [...own, ...flatten(error.children ?? [], field)];
  });
}

/**
 * The global pipe: DTOs are the single source of truth. Unknown fields are rejected (no mass
 * assignment of balance, version, merchant), nothing is coerced implicitly, and failures become
 * 400 validation_failed with { field, message } per problem.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    stopAtFirstError: true,
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => new ValidationFailedError(flatten(errors)),
  });
}

/** For routes that take no fields: no body, or an empty JSON object. */
export function assertNoFields(body: unknown): void {
  if (body === undefined || body === null) return;
  if (typeof body === 'object' && !Array.isArray(body)) {
    const fields = Object.keys(body);
    if (fields.length === 0) return;
    throw new ValidationFailedError(fields.slice(0, 20).map((field) => ({ field, message: `${field} should not exist` })));
  }
  throw new ValidationFailedError([{ field: 'body', message: 'must be an empty object, or absent' }]);
}
