import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, map, Observable } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { runHandler } from '../common/run-handler.js';
import { Sql, type SqlTransaction } from '../database/sql.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { inSpan, inSyncSpan, keyHash, setSpanAttributes } from '../telemetry/spans.js';
import { isPhasedAnswer, PER_ITEM, PHASED, type PhasedAnswer, SHOWN_ONCE } from './idempotency.decorators.js';
import { IdempotencyRepository, type KeyedCall, type RecordedResponse } from './idempotency.repository.js';
import { BatchItemsRepository } from './batch-items.repository.js';
import { ItemRunner } from './item-runner.js';
import { CommittedResponses } from './committed-responses.js';
import { IdempotencyService, type IdempotentAnswer, type OutcomeObserver } from './idempotency.service.js';
import { PostgresIdempotencyStore } from './postgres-idempotency.store.js';
import { parseIdempotencyKey, requestFingerprint } from './request-fingerprint.js';

/** Keys of requests authenticated with the admin token live in their own scope. */
export const ADMIN_SCOPE = '_admin';
/** Committed answers kept in memory for replays (REPLAY_MEMORY_ENTRIES of them, at most these bytes). */
const COMMITTED_RESPONSES_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Every POST, and every PUT sent with an Idempotency-Key, between HTTP and IdempotencyService:
 * reads the key and what makes the request "the same" (its fingerprint), hands the service the
 * handler to run in the request's transaction (@Tx()), and writes the answer it gets back, with
 * Idempotency-Expires and Idempotent-Replayed. Metrics, logs and spans of the outcome are here.
 * A PUT without a key gets its transaction from TransactionInterceptor instead.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly service: IdempotencyService<SqlTransaction>;

  constructor(
    store: PostgresIdempotencyStore,
    private readonly sql: Sql,
    private readonly repository: IdempotencyRepository,
    private readonly items: BatchItemsRepository,
    private readonly metrics: MetricsService,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.service = new IdempotencyService(store, new CommittedResponses(config.replayMemoryEntries, COMMITTED_RESPONSES_MAX_BYTES), {
      ttlSeconds: config.idempotencyTtlSeconds,
      inFlightWaitMs: 1_000,
      inFlightPollMs: 25,
    });
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const header = request.headers['idempotency-key'];
    if (request.method !== 'POST' && (request.method !== 'PUT' || header === undefined)) return next.handle();

    const call: KeyedCall = {
      merchantId: request.merchantId ?? ADMIN_SCOPE,
      key: parseIdempotencyKey(header),
      fingerprint: requestFingerprint(request.method, request.url, request.body),
    };
    const phased = this.reflector.get<((body: unknown) => boolean) | undefined>(PHASED, context.getHandler());
    if (phased?.(request.body)) {
      // Its own phases and records (card-charges/): no transaction here, only the answer to write.
      request.keyedCall = call;
      return next.handle().pipe(map((answer: unknown) => (isPhasedAnswer(answer) ? this.sendPhased(reply, answer) : answer)));
    }
    const shownOnce = this.reflector.get<string[] | undefined>(SHOWN_ONCE, context.getHandler()) ?? [];
    const perItem = this.reflector.get<boolean | undefined>(PER_ITEM, context.getHandler()) ?? false;
    const observe: OutcomeObserver = (outcome, ageSeconds) => {
      this.metrics.countIdempotency(outcome);
      setSpanAttributes({ 'idempotency.outcome': outcome });
      if (outcome === 'new') return;
      if (ageSeconds !== null) this.metrics.observeDuplicateAge(outcome, ageSeconds);
      request.log.info(
        { context: 'Idempotency', merchantId: call.merchantId, keyHash: keyHash(call.merchantId, call.key), outcome, ageSeconds },
        'duplicate request',
      );
    };
    // With tracing on, the request's work under one span; its children are the handler and the
    // record (the claim travels with the handler's first statement), or the replay.
    const attributes = () => ({ 'merchant.id': call.merchantId, 'idempotency.key_hash': keyHash(call.merchantId, call.key) });
    return from(
      inSpan('idempotency', attributes, async () => {
        const answer = perItem
          ? await this.service.executePerItem(call, () => this.runPerItem(request, reply, next, call), observe)
          : await this.service.execute(
              call,
              (tx) => this.runInTransaction(request, reply, next, tx),
              (response) => withoutShownOnceFields(response, shownOnce),
              observe,
            );
        return this.send(reply, answer);
      }),
    );
  }

  private async runInTransaction(
    request: FastifyRequest,
    reply: FastifyReply,
    next: CallHandler,
    tx: SqlTransaction,
  ): Promise<RecordedResponse> {
    request.transaction = tx;
    try {
      return await inSpan('idempotency.handler', {}, () => runHandler(next, reply));
    } finally {
      request.transaction = undefined;
    }
  }

  private async runPerItem(request: FastifyRequest, reply: FastifyReply, next: CallHandler, call: KeyedCall): Promise<RecordedResponse> {
    request.itemRunner = new ItemRunner(this.sql, this.repository, this.items, call, this.config.idempotencyTtlSeconds);
    return inSpan('idempotency.handler', {}, () => runHandler(next, reply));
  }

  private sendPhased(reply: FastifyReply, answer: PhasedAnswer): string {
    void reply.status(answer.response.status).headers(answer.response.headers);
    if (answer.expiresAt) void reply.header('Idempotency-Expires', answer.expiresAt.toUTCString());
    if (answer.replayed) void reply.header('Idempotent-Replayed', 'true');
    return answer.response.body;
  }

  private send(reply: FastifyReply, answer: IdempotentAnswer): string {
    const write = () => {
      void reply.status(answer.response.status).headers(answer.response.headers);
      void reply.header('Idempotency-Expires', answer.expiresAt.toUTCString());
      if (answer.kind === 'replayed') void reply.header('Idempotent-Replayed', 'true');
      return answer.response.body;
    };
    return answer.kind === 'replayed' ? inSyncSpan('idempotency.replay', { 'idempotency.replay.from': answer.from }, write) : write();
  }
}

function withoutShownOnceFields(response: RecordedResponse, fields: string[]): RecordedResponse {
  if (fields.length === 0 || response.status >= 300) return response;
  const body = JSON.parse(response.body) as Record<string, unknown>;
  for (const field of fields) body[field] = null;
  return { ...response, body: JSON.stringify(body) };
}
