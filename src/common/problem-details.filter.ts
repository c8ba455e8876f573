import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Injectable, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { MetricsService } from '../metrics/metrics.service.js';
import { DatabaseUnavailableError, sqlState } from './database-errors.js';
import {
  DomainError,
  PayloadTooLargeError,
  RouteNotFoundError,
  UnavailableError,
  UnsupportedMediaTypeError,
  ValidationFailedError,
} from './domain-error.js';
import { BODY_LIMIT_BYTES } from './input-limits.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js';

class InternalError extends DomainError {
  constructor(requestId: string) {
    super({
      status: 500,
      code: 'internal_error',
      title: 'Internal error',
      detail: `Something went wrong on our side (request ${requestId}). Nothing was recorded for the Idempotency-Key; retry with the same key.`,
    });
  }
}

interface FrameworkError {
  code?: unknown;
  statusCode?: unknown;
}

/**
 * Turns anything thrown into the DomainError the client sees. Unknown errors become a generic 500
 * whose detail carries only the request id; the stack goes to the log, never to the body.
 */
export function toDomainError(exception: unknown, request: FastifyRequest): DomainError {
  if (exception instanceof DomainError) return exception;
  if (exception instanceof DatabaseUnavailableError) return new UnavailableError();

  const status =
    exception instanceof HttpException
      ? exception.getStatus()
      : typeof (exception as FrameworkError)?.statusCode === 'number'
        ? ((exception as FrameworkError).statusCode as number)
        : 500;
  // Nest wraps Fastify's own errors (body parsing) in an HttpException whose cause is the original.
  const cause = exception instanceof HttpException ? (exception.cause as FrameworkError | undefined) : undefined;
  const rawCode = cause?.code ?? (exception as FrameworkError)?.code;
  const code = typeof rawCode === 'string' ? rawCode : '';
  if (status === 404) return new RouteNotFoundError(request.method, request.url);
  if (status === 413 || code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new PayloadTooLargeError(BODY_LIMIT_BYTES);
  if (status === 415 || code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new UnsupportedMediaTypeError(String(request.headers['content-type'] ?? ''));
  }
  if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || exception instanceof SyntaxError) {
    return new ValidationFailedError([{ field: 'body', message: 'must be well-formed JSON' }], 'The body is not valid JSON.');
  }
  if (status >= 400 && status < 500) {
    return new ValidationFailedError([], 'The request is not valid.');
  }
  return new InternalError(String(request.id));
}

/** Set on every request before anything can fail (app.setup.ts), and true of a problem too. */
const KEPT_ON_PROBLEMS = new Set(['x-request-id']);

export function sendProblem(reply: FastifyReply, error: DomainError): void {
  // A handler may have set Location or ETag before the request failed (a COMMIT that failed
  // after the charge was made): they would point at an object that was rolled back. A problem
  // carries only its own headers.
  for (const name of Object.keys(reply.getHeaders())) if (!KEPT_ON_PROBLEMS.has(name)) reply.removeHeader(name);
  void reply
    .status(error.status)
    .headers(error.headers)
    .header('content-type', PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(problemOf(error)));
}

/** The one place errors become RFC 9457 application/problem+json (registered as APP_FILTER). */
@Catch()
@Injectable()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemDetails');

  constructor(private readonly metrics: MetricsService) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const error = toDomainError(exception, request);
    if (error.status === 500) {
      this.logger.error({ msg: 'unhandled error', reqId: request.id, err: describe(exception) });
    } else if (exception instanceof DatabaseUnavailableError) {
      // What the server said decides what an operator does (a deadlock, a lock timeout, a restart).
      const state = sqlState(exception.cause);
      this.metrics.countDatabaseUnavailable(state);
      this.logger.warn({ msg: 'database unavailable', reqId: request.id, sqlState: state ?? 'connection', err: describe(exception.cause) });
    }
    if (reply.sent) return;
    sendProblem(reply, error);
  }
}

function describe(exception: unknown): { message: string; stack?: string } {
  return exception instanceof Error ? { message: exception.message, stack: exception.stack } : { message: String(exception) };
}
