import type { LoggerService } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { pino, stdSerializers, type Logger } from 'pino';
import { maskUrlForLog } from '../common/validators.js';
import type { LogLevel } from '../config/app-config.js';
import { activeTraceIds } from '../telemetry/spans.js';

/**
 * The one logger of the process: Fastify's request lines and Nest's own lines (bootstrap,
 * modules, services) go through this pino instance, so every line has one schema:
 *
 *   {"level":"info","time":"…","pid":…,"context":"…","reqId":"…","traceId":"…","spanId":"…","msg":"…"}
 *
 * `reqId` is on every line of a request (Fastify binds it to the request's logger; Nest lines
 * logged for a request pass it), `traceId` and `spanId` on every line logged while a span is
 * active (tracing on). Headers are never logged; URLs are masked (maskUrlForLog).
 */
export function createLogger(level: LogLevel): Logger {
  return pino({
    level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Nothing when no span is active, so with tracing off this costs one flag check.
    mixin: activeTraceIds,
    serializers: {
      // What a request line holds: never headers, and a URL without API keys, secrets or card-like digits.
      req: (request: FastifyRequest) => ({ method: request.method, url: maskUrlForLog(request.url), remoteAddress: request.ip }),
      res: (reply: FastifyReply) => ({ statusCode: reply.statusCode }),
      err: stdSerializers.err,
    },
  });
}

type PinoLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

/**
 * Nest's LoggerService on the process's pino logger: Nest's `log` is pino's `info`, `verbose` its
 * `trace`; the context (Nest's last string argument) becomes `context`, and an object message
 * (`{ msg, reqId, ... }`) is merged into the line.
 */
export class NestPinoLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, ...optional: unknown[]): void {
    this.write('info', message, optional);
  }

  error(message: unknown, ...optional: unknown[]): void {
    this.write('error', message, optional);
  }

  warn(message: unknown, ...optional: unknown[]): void {
    this.write('warn', message, optional);
  }

  debug(message: unknown, ...optional: unknown[]): void {
    this.write('debug', message, optional);
  }

  verbose(message: unknown, ...optional: unknown[]): void {
    this.write('trace', message, optional);
  }

  fatal(message: unknown, ...optional: unknown[]): void {
    this.write('fatal', message, optional);
  }

  private write(level: PinoLevel, message: unknown, optional: unknown[]): void {
    if (!this.logger.isLevelEnabled(level)) return;
    const params = [...optional];
    const fields: Record<string, unknown> = {};
    if (typeof params.at(-1) === 'string') fields.context = params.pop();
    // Nest's error(message, stack, context): the stack of an error it caught.
    if (level === 'error' && typeof params[0] === 'string') fields.stack = params[0];
    let text: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      text = message.message;
    } else if (message !== null && typeof message === 'object') {
      const { msg, message: alsoMsg, ...rest } = message as Record<string, unknown>;
      Object.assign(fields, rest);
      text = typeof msg === 'string' ? msg : typeof alsoMsg === 'string' ? alsoMsg : undefined;
    } else {
      text = String(message);
    }
    this.logger[level](fields, text);
  }
}
