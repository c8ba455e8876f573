import type { CallHandler } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { lastValueFrom } from 'rxjs';
import { DomainError } from './domain-error.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js';

/** A handler's answer as it is sent, and recorded against a key. */
export interface HandlerResponse {
  status: number;
  body: string;
  /** content-type, and location / etag where the handler set them. */
  headers: Record<string, string>;
}

/**
 * Runs the route handler. A business outcome (DomainError.recorded) is turned into a response
 * here, so it is recorded and committed like a success; any other error propagates and rolls the
 * transaction back.
 */
export async function runHandler(next: CallHandler, reply: FastifyReply): Promise<HandlerResponse> {
  try {
    const body: unknown = await lastValueFrom(next.handle(), { defaultValue: undefined });
    const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
    for (const name of ['location', 'etag']) {
      const value = reply.getHeader(name);
      if (typeof value === 'string') headers[name] = value;
    }
    return { status: reply.statusCode, body: body === undefined ? '' : JSON.stringify(body), headers };
  } catch (error) {
    if (!(error instanceof DomainError) || !error.recorded) throw error;
    return {
      status: error.status,
      body: JSON.stringify(problemOf(error)),
      headers: { ...lowercaseKeys(error.headers), 'content-type': PROBLEM_CONTENT_TYPE },
    };
  }
}

function lowercaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}
