import { CallHandler, ExecutionContext, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, Observable } from 'rxjs';
import { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { DomainError } from '../common/domain-error.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../common/problem.js';
import { runFusedTransaction, runTransaction, type FusedTransaction } from '../database/transaction.js';
import { sqlState } from '../common/database-errors.js';
import { MetricsService, type IdempotencyOutcome } from '../metrics/metrics.service.js';
import { inSpan, inSyncSpan, keyHash, setSpanAttributes } from '../telemetry/spans.js';
import { PER_ITEM, SHOWN_ONCE } from './idempotency.decorators.js';
import { IdempotencyKeyReusedError, IdempotencyRequestInProgressError } from './idempotency.errors.js';
import { IdempotencyRepository, KEY_IN_USE_SQLSTATE, RecordedResponse, type StoredKey } from './idempotency.repository.js';
import { BatchItemsRepository } from './batch-items.repository.js';
import { ItemRunner } from './item-runner.js';
import { CommittedResponses } from './committed-responses.js';
import { parseIdempotencyKey, requestFingerprint } from './request-fingerprint.js';

/** Keys of requests authenticated with the admin token live in their own scope. */
export const ADMIN_SCOPE = '_admin';
/** How long a request waits for an in-flight twin to finish (then replays it) before answering 409. */
const IN_FLIGHT_WAIT_MS = 1_000;
const IN_FLIGHT_POLL_MS = 25;
/** Committed answers kept in memory for replays: bounded so the process stays small. */
const COMMITTED_RESPONSES_MAX = 2_000;
const COMMITTED_RESPONSES_MAX_BYTES = 4 * 1024 * 1024;

type Attempt =
  /** The short way stopped before it reached the database (a 400): try the long way. */
  | { kind: 'long way' }
  /** Another request with the key is in flight; `claimedAt` when it holds a claim already. */
  | { kind: 'busy'; claimedAt?: Date }
  | { kind: 'raced' }
  | { kind: 'replay'; response: RecordedResponse; createdAt: Date; expiresAt: Date }
  | { kind: 'executed'; response: RecordedResponse; recorded: RecordedResponse; createdAt: Date; expiresAt: Date };

interface Call {
  merchantId: string;
  key: string;
  fingerprint: string;
  /** Response fields recorded as null (@ShownOnce()). */
  shownOnce: string[];
  /** The handler records item by item (@IdempotentPerItem()). */
  perItem: boolean;
}

/** The twin request committed between our lookup and our insert: roll back, then replay it. */
class KeyRecordedMeanwhile extends Error {}

/**
 * Opens the one transaction of every write request (POST, PUT) and makes it idempotent:
 *
 *   BEGIN
 *   lock the key (advisory, no wait) + read its record ──▶ busy: wait briefly, else 409
 *                                                      ──▶ recorded: replay it (or 422 if the
 *                                                          request differs)
 *   run the handler with the transaction (@Tx())        ──▶ validation error etc.: ROLLBACK, not recorded
 *   insert the record (response + fingerprint)
 *   COMMIT  ── the effect and its record commit together, or neither does.
 *
 * Handlers need no code of their own for it: a new POST route is idempotent by being a POST.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  private readonly committed = new CommittedResponses(COMMITTED_RESPONSES_MAX, COMMITTED_RESPONSES_MAX_BYTES);

  constructor(
    private readonly dataSource: DataSource,
    private readonly repository: IdempotencyRepository,
    private readonly items: BatchItemsRepository,
    private readonly metrics: MetricsService,
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    if (request.method !== 'POST' && request.method !== 'PUT') return next.handle();

    const header = request.headers['idempotency-key'];
    if (request.method === 'PUT' && header === undefined) {
      // An Idempotency-Key is optional on PUT: without one, the request still gets its transaction.
      return from(this.inTransaction(request, () => this.runHandler(next, reply)).then((response) => this.send(reply, response)));
    }
    const key = parseIdempotencyKey(header);
    const merchantId = request.merchantId ?? ADMIN_SCOPE;
    const fingerprint = requestFingerprint(request.method, request.url, request.body);
    const shownOnce = this.reflector.get<string[] | undefined>(SHOWN_ONCE, context.getHandler()) ?? [];
    const perItem = this.reflector.get<boolean | undefined>(PER_ITEM, context.getHandler()) ?? false;
    const call = { merchantId, key, fingerprint, shownOnce, perItem };
    // With tracing on, the request's work under one span; its children are the claim (the lookup
    // with its SQL), the replay or the handler, and the record.
    return from(
      inSpan(
        'idempotency',
        () => this.spanAttributes(call),
        () => this.execute(request, reply, next, call),
      ),
    );
  }

  private async execute(request: FastifyRequest, reply: FastifyReply, next: CallHandler, call: Call): Promise<string> {
    // A committed answer this process has seen needs no database work at all.
    const known = this.committed.get(call.merchantId, call.key);
    if (known) {
      this.decide(known, call, request); // throws for another request with the key
      this.outcome('replayed', call, request, known.createdAt);
      return inSyncSpan('idempotency.replay', { 'idempotency.replay.from': 'memory' }, () =>
        this.send(reply, known.response, { expiresAt: known.expiresAt, replayed: true }),
      );
    }
    const giveUpAt = Date.now() + IN_FLIGHT_WAIT_MS;
    // A key first tries the short way; every later attempt (the key was busy) takes the long way.
    for (let first = true; ; first = false) {
      const attempt = await this.attempt(request, reply, next, call, first ? 'short' : 'long');
      if (attempt.kind === 'long way') continue;
      if (attempt.kind === 'replay' || attempt.kind === 'executed') {
        // What is kept is what was recorded (a new merchant's api_key is shown once, never kept).
        const recorded = attempt.kind === 'replay' ? attempt.response : attempt.recorded;
        const { createdAt, expiresAt } = attempt;
        this.committed.remember(call.merchantId, call.key, { fingerprint: call.fingerprint, response: recorded, createdAt, expiresAt });
        if (attempt.kind === 'executed') {
          this.outcome('new', call, request);
          return this.send(reply, attempt.response, { expiresAt, replayed: false });
        }
        this.outcome('replayed', call, request, createdAt);
        return inSyncSpan('idempotency.replay', { 'idempotency.replay.from': 'database' }, () =>
          this.send(reply, attempt.response, { expiresAt, replayed: true }),
        );
      }
      if (attempt.kind === 'busy' && Date.now() >= giveUpAt) {
        this.outcome('in_progress', call, request, attempt.claimedAt);
        throw new IdempotencyRequestInProgressError(1);
      }
      if (attempt.kind === 'busy') await sleep(IN_FLIGHT_POLL_MS);
    }
  }

  /**
   * What a live record of the key means for this request: replay its response, refuse another
   * request (422), or undefined when it is this same request's claim with no response yet (a
   * request recording item by item that is still running or was cut off).
   */
  private decide(stored: StoredKey, call: Call, request: FastifyRequest): Attempt | undefined {
    if (stored.fingerprint !== call.fingerprint) {
      this.outcome('mismatch', call, request, stored.createdAt);
      throw new IdempotencyKeyReusedError();
    }
    return stored.response
      ? { kind: 'replay', response: stored.response, createdAt: stored.createdAt, expiresAt: stored.expiresAt }
      : undefined;
  }

  /**
   * Counts the request's outcome (idempotency_requests_total) and puts it on its span. A duplicate
   * (a key already recorded, claimed or in flight) is also logged, with the merchant, a hash of the
   * key and how old the key was: `recordedAt` is when its record was written (none while the
   * first request with it has not committed), observed in idempotency_duplicate_age_seconds.
   */
  private outcome(outcome: IdempotencyOutcome, call: Call, request: FastifyRequest, recordedAt?: Date): void {
    this.metrics.countIdempotency(outcome);
    setSpanAttributes({ 'idempotency.outcome': outcome });
    if (outcome === 'new') return;
    const ageSeconds = recordedAt ? Math.max(0, (Date.now() - recordedAt.getTime()) / 1000) : null;
    if (ageSeconds !== null) this.metrics.observeDuplicateAge(outcome, ageSeconds);
    request.log.info(
      { context: 'Idempotency', merchantId: call.merchantId, keyHash: keyHash(call.merchantId, call.key), outcome, ageSeconds },
      'duplicate request',
    );
  }

  /** What a trace says of the request: its merchant and a hash of its key, never the key. */
  private spanAttributes(call: Call): Record<string, string> {
    return { 'merchant.id': call.merchantId, 'idempotency.key_hash': keyHash(call.merchantId, call.key) };
  }

  /**
   * One transaction that replays the key or runs the handler and records its response, which
   * commits with the effect. Two ways (docs/architecture.md):
   *
   * - short, the first try of a key this process has not seen: two round trips. Nothing is sent
   *   before the handler's first statement; BEGIN and the key's opening (lock it, refuse it if
   *   in use) travel with it in one pipeline, and the record with COMMIT in another. A refused
   *   key's statement is skipped by the server (afterShortWay).
   * - long, every later try: three round trips. BEGIN with the key's lock and lookup, which
   *   replays, refuses or reports the key busy before the handler runs; the handler's statement;
   *   the record with COMMIT.
   */
  private async attempt(
    request: FastifyRequest,
    reply: FastifyReply,
    next: CallHandler,
    call: Call,
    way: 'short' | 'long',
  ): Promise<Attempt> {
    if (call.perItem) return this.attemptPerItem(request, reply, next, call);
    try {
      return await runFusedTransaction(this.dataSource, async (transaction): Promise<Attempt> => {
        if (way === 'short') {
          transaction.openWith(this.repository.openingStatements(call.merchantId, call.key));
        } else {
          const lock = await inSpan('idempotency.claim', {}, () =>
            this.repository.beginAndLockAndFind(transaction, call.merchantId, call.key),
          );
          // A recorded answer is replayed whoever holds the lock: concurrent replays never queue.
          // A claim of this same request with no response yet cannot be answered here: in progress.
          if (lock.stored) return this.decide(lock.stored, call, request) ?? { kind: 'busy', claimedAt: lock.stored.createdAt };
          if (!lock.locked) return { kind: 'busy' };
        }
        request.transactionManager = transaction.manager;
        try {
          const response = await inSpan('idempotency.handler', {}, () => this.runHandler(next, reply));
          const recorded = withoutShownOnceFields(response, call.shownOnce);
          const times = await inSpan('idempotency.record', {}, () =>
            this.repository.recordAndCommit(
              transaction,
              call.merchantId,
              call.key,
              call.fingerprint,
              recorded,
              this.config.idempotencyTtlSeconds,
            ),
          );
          if (!times) throw new KeyRecordedMeanwhile();
          return { kind: 'executed', response, recorded, ...times };
        } catch (error) {
          // The opening went with the handler's first statement (or with the record, when the
          // handler sent none): a failure before it was done may be the key's refusal.
          if (way === 'short' && transaction.opening().state !== 'done') return this.afterShortWay(transaction, error, call, request);
          throw error;
        }
      });
    } catch (error) {
      if (error instanceof KeyRecordedMeanwhile) return { kind: 'raced' };
      throw error;
    } finally {
      request.transactionManager = undefined;
    }
  }

  /**
   * Why the short way stopped before its opening was done. The key is in use (IK409): one round
   * trip rolls the refused transaction back and reads the key's record, which a replay needs
   * without the lock; no record (a request with the key in flight) is busy. The request failed
   * before it reached the database (a 400): the long way, so that a recorded key answers first.
   * The opening failed otherwise (the database is unavailable, say): that error stands.
   */
  private async afterShortWay(transaction: FusedTransaction, error: unknown, call: Call, request: FastifyRequest): Promise<Attempt> {
    const opening = transaction.opening();
    if (opening.state === 'pending') return { kind: 'long way' };
    if (opening.state !== 'failed' || sqlState(opening.error) !== KEY_IN_USE_SQLSTATE) throw error;
    const stored = await inSpan('idempotency.claim', {}, () => this.repository.rollbackAndFind(transaction, call.merchantId, call.key));
    if (!stored) return { kind: 'busy' };
    return this.decide(stored, call, request) ?? { kind: 'busy', claimedAt: stored.createdAt };
  }

  /**
   * A route that commits item by item: look the key up (replay a finished response, refuse
   * another request's key), then run the handler outside any transaction with an ItemRunner, which
   * claims the key with the first item's effect and records each item with its effect; then record
   * the whole response on the claim. A run cut off part-way leaves its claim and its committed
   * items recorded, and the retry resumes: it replays those items and runs the rest.
   */
  private async attemptPerItem(request: FastifyRequest, reply: FastifyReply, next: CallHandler, call: Call): Promise<Attempt> {
    const lookup = await inSpan('idempotency.claim', {}, () =>
      this.inTransaction(request, async (manager): Promise<Attempt | undefined> => {
        const lock = await this.repository.lockAndFind(manager, call.merchantId, call.key);
        if (lock.stored) return this.decide(lock.stored, call, request);
        return lock.locked ? undefined : { kind: 'busy' };
      }),
    );
    if (lookup) return lookup;

    request.itemRunner = new ItemRunner(this.dataSource, this.repository, this.items, call, this.config.idempotencyTtlSeconds);
    const response = await inSpan('idempotency.handler', {}, () => this.runHandler(next, reply));
    const times = await inSpan('idempotency.record', {}, () =>
      runTransaction(this.dataSource, (manager) =>
        this.repository.complete(manager, call.merchantId, call.key, call.fingerprint, response),
      ),
    );
    // Undefined: a twin run of the same request recorded the (item by item identical) response first.
    return times ? { kind: 'executed', response, recorded: response, ...times } : { kind: 'raced' };
  }

  private async inTransaction<T>(request: FastifyRequest, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    try {
      return await runTransaction(this.dataSource, (manager) => {
        request.transactionManager = manager;
        return work(manager);
      });
    } finally {
      request.transactionManager = undefined;
    }
  }

  /**
   * Runs the route handler inside the transaction. A business outcome (DomainError.recorded) is
   * turned into a response here, so it is recorded and committed like a success; any other error
   * propagates and rolls the transaction back.
   */
  private async runHandler(next: CallHandler, reply: FastifyReply): Promise<RecordedResponse> {
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

  private send(reply: FastifyReply, response: RecordedResponse, recorded?: { expiresAt: Date | undefined; replayed: boolean }): string {
    void reply.status(response.status).headers(response.headers);
    if (recorded?.expiresAt) void reply.header('Idempotency-Expires', recorded.expiresAt.toUTCString());
    if (recorded?.replayed) void reply.header('Idempotent-Replayed', 'true');
    return response.body;
  }
}

function withoutShownOnceFields(response: RecordedResponse, fields: string[]): RecordedResponse {
  if (fields.length === 0 || response.status >= 300) return response;
  const body = JSON.parse(response.body) as Record<string, unknown>;
  for (const field of fields) body[field] = null;
  return { ...response, body: JSON.stringify(body) };
}

function lowercaseKeys(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
