import { CallHandler, ExecutionContext, Injectable, NestInterceptor } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, Observable } from 'rxjs';
import { runHandler } from '../common/run-handler.js';
import { Sql } from './sql.js';

/**
 * The transaction of a PUT sent without an Idempotency-Key (the key is optional on PUT, which is
 * idempotent by itself), and of a DELETE (deleting twice is one deletion: no key is needed): BEGIN goes out with the handler's first statement, COMMIT after its
 * answer; any error rolls it back. A keyed request gets its transaction from IdempotencyInterceptor.
 */
@Injectable()
export class TransactionInterceptor implements NestInterceptor {
  constructor(private readonly sql: Sql) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const keylessPut = request.method === 'PUT' && request.headers['idempotency-key'] === undefined;
    if (!keylessPut && request.method !== 'DELETE') return next.handle();
    return from(
      this.sql.transaction(async (tx) => {
        request.transaction = tx;
        try {
          const response = await runHandler(next, reply);
          void reply.status(response.status).headers(response.headers);
          return response.body;
        } finally {
          request.transaction = undefined;
        }
      }),
    );
  }
}
