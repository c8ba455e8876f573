import { Inject, Injectable } from '@nestjs/common';
import { SpanKind } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { newId } from '../common/ids.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from '../common/problem.js';
import { toChargeDto } from '../charges/charges.service.js';
import type { ChargeRow } from '../charges/charges.service.js';
import type { CreateChargeDto } from '../charges/dto/charge.dto.js';
import { IdempotencyKeyReusedError, IdempotencyRequestInProgressError } from '../idempotency/idempotency.errors.js';
import type { KeyedCall, RecordedResponse } from '../idempotency/idempotency.types.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { inSpan, keyHash, setSpanAttributes } from '../telemetry/spans.js';
import { AcquirerClient, outcomeOf, type AcquirerPayment } from './acquirer.client.js';
import { AcquirerUnavailableError, CardDeclinedError } from './card-charges.errors.js';
import { CardChargeTestHooks } from './card-charge-test-hooks.js';
import { CardChargesRepository, type CardKeyRecord, type Finish, type LeasedKey } from './card-charges.repository.js';

/** A card charge's answer as the HTTP side writes it (see writeCardAnswer). */
export interface CardAnswer {
  response: RecordedResponse;
  /** The recorded answer of an earlier request with the key. */
  replayed: boolean;
  /** Recorded answers only: until when the key keeps it. */
  expiresAt: Date | undefined;
}

/** Where one push of a key through its phases left it. */
export type Advance =
  | { kind: 'finished'; response: RecordedResponse; expiresAt: Date }
  /** Still at acquirer_called: no definitive answer yet. */
  | { kind: 'undecided' }
  /** The circuit is open; nothing was sent (the key stays where it was). */
  | { kind: 'unavailable' }
  /** Another worker holds the key now: this one's result was dropped. */
  | { kind: 'lost_lease' }
  /** The completer removed a key at `started`. */
  | { kind: 'rolled_back' };

/** How long a client is told to wait before polling a pending charge or repeating its POST. */
const PENDING_RETRY_AFTER_SECONDS = 1;
/** Tries of tx1 when the key's record vanished between the claim and its read (the completer rolled it back). */
const CLAIM_TRIES = 3;

/**
 * Card charges through the acquirer in atomic phases (issue 20, docs/API.md "Card charges"):
 *
 *   tx1 started ──▶ tx2 acquirer_called ──▶ the acquirer's call (no transaction open)
 *     definitive (201, 402, 422, or a lookup that found the payment) ──▶ tx3 finished
 *     indeterminate (timeout, reset, 409, 503, 500) ──▶ stays acquirer_called (attempt counted)
 *
 * A worker (a request, a retry, the completer) holds the key's lease; tx2 and tx3 write only
 * while it does. The same advance() serves all of them.
 *
 * With tracing on, a request is a `card_charge` span (a completer's push, `card_charge.complete`)
 * whose children are its steps: `card_charge.claim` (tx1), `card_charge.calling` (tx2),
 * `card_charge.acquirer` and `card_charge.lookup` (the acquirer's calls), `card_charge.finish`
 * (tx3), `card_charge.undecided` (an indeterminate answer counted) and `card_charge.roll_back`.
 */
@Injectable()
export class CardChargesService {
  constructor(
    private readonly keys: CardChargesRepository,
    private readonly acquirer: AcquirerClient,
    private readonly metrics: MetricsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly hooks: CardChargeTestHooks,
  ) {}

  /** POST /v1/charges with a payment_method. */
  create(call: KeyedCall, body: CreateChargeDto, paymentMethod: string): Promise<CardAnswer> {
    const attributes = () => ({ 'merchant.id': call.merchantId, 'idempotency.key_hash': keyHash(call.merchantId, call.key) });
    return inSpan('card_charge', attributes, async () => {
      const answer = await this.claimOrResume(call, body, paymentMethod);
      setSpanAttributes({ 'card_charge.answer_status': answer.response.status, 'card_charge.replayed': answer.replayed });
      return answer;
    });
  }

  private async claimOrResume(call: KeyedCall, body: CreateChargeDto, paymentMethod: string): Promise<CardAnswer> {
    const token = randomUUID();
    for (let tries = 0; tries < CLAIM_TRIES; tries++) {
      const charge = await inSpan('card_charge.claim', {}, () =>
        this.keys.claim(
          call,
          {
            id: newId('ch'),
            paymentMethod,
            amount: body.amount,
            currency: body.currency,
            description: body.description ?? null,
            metadata: body.metadata ?? {},
          },
          token,
          this.config.idempotencyLeaseSeconds,
        ),
      );
      if (charge) {
        this.hooks.crashAt('after_tx1');
        this.metrics.countIdempotency('new');
        setSpanAttributes({ 'idempotency.outcome': 'new', 'charge.id': charge.id });
        const key: LeasedKey = { ...call, token, recoveryPoint: 'started', attempts: 0, lastOutcome: null, ageSeconds: 0, charge };
        return this.drive(key);
      }
      const record = await this.keys.find(call);
      if (record) return this.resume(call, record, token);
    }
    throw new IdempotencyRequestInProgressError(1);
  }

  /** Pushes a key as far as it goes; the completer's entry point. */
  async advance(key: LeasedKey, by: 'request' | 'completer'): Promise<Advance> {
    if (by === 'completer' && key.recoveryPoint === 'started') {
      // Nothing can have gone out: roll it back, so a retry starts clean.
      return (await inSpan('card_charge.roll_back', {}, () => this.keys.rollBack(key))) ? { kind: 'rolled_back' } : { kind: 'lost_lease' };
    }
    if (key.recoveryPoint === 'acquirer_called' && this.needsLookup(key)) {
      const looked = await this.lookUp(key);
      if (typeof looked === 'object') return looked;
      if (this.pastResendHorizon(key)) {
        // Too old to send again (the acquirer may have forgotten the key): only the lookup decides.
        // Nothing made, and no request of the key can still be out (the lease outlasts the call):
        // the payment was never made.
        if (looked === 'absent') return this.finishDeclined(key, 'processing_error', 'horizon_absent');
        await this.undecided(key, 'lookup_unanswered');
        return { kind: 'undecided' };
      }
      if (looked === 'absent' && key.lastOutcome === 'error500') return this.finishDeclined(key, 'processing_error', 'error500_absent');
    }
    if (this.acquirer.circuitOpen) {
      await this.keys.release(key);
      return { kind: 'unavailable' };
    }
    if (!(await inSpan('card_charge.calling', {}, () => this.keys.calling(key, this.config.idempotencyLeaseSeconds))))
      return this.lostLease();
    this.hooks.crashAt('after_tx2');
    const answer = await inSpan(
      'card_charge.acquirer',
      { 'charge.id': key.charge.id },
      async () => {
        const answered = await this.acquirer.pay({
          chargeId: key.charge.id,
          amount: Number(key.charge.amount),
          currency: key.charge.currency,
          paymentMethod: key.charge.payment_method ?? '',
        });
        setSpanAttributes({ 'acquirer.outcome': outcomeOf(answered) });
        return answered;
      },
      SpanKind.CLIENT,
    );
    this.hooks.crashAt('after_answer');
    this.metrics.countAcquirer(outcomeOf(answer));
    switch (answer.kind) {
      case 'captured':
        return this.finishCaptured(key, answer.payment);
      case 'declined':
        return this.finishDeclined(key, answer.declineCode, 'declined');
      case 'refused':
        // The acquirer holds our key with another body: it will never take this charge.
        return this.finishDeclined(key, 'processing_error', 'refused');
      case 'error500': {
        // Cached under the key: a repeat answers the same. Only the lookup tells; nothing found
        // means the 500 made nothing, and the key can never make it: the charge failed.
        const looked = await this.lookUp(key);
        if (typeof looked === 'object') return looked;
        if (looked === 'absent') return this.finishDeclined(key, 'processing_error', 'error500_absent');
        await this.undecided(key, 'error500');
        return { kind: 'undecided' };
      }
      case 'indeterminate':
        if (!(await this.undecided(key, answer.reason))) return this.lostLease();
        return { kind: 'undecided' };
    }
  }

  /**
   * The acquirer's reconciliation read: a capture or a decline found finishes the key with it;
   * otherwise whether the acquirer answered that it holds nothing ('absent') or did not answer.
   */
  private async lookUp(key: LeasedKey): Promise<Advance | 'absent' | 'unanswered'> {
    const found = await inSpan(
      'card_charge.lookup',
      { 'charge.id': key.charge.id },
      () => this.acquirer.lookup(key.charge.id),
      SpanKind.CLIENT,
    );
    if (!found) {
      this.metrics.countAcquirer('lookup_failed');
      return 'unanswered';
    }
    if (found.captured) {
      this.metrics.countAcquirer('lookup_captured');
      return this.finishCaptured(key, found.captured);
    }
    if (found.declined) {
      this.metrics.countAcquirer('lookup_declined');
      return this.finishDeclined(key, found.declined.decline_code ?? 'generic_decline', 'lookup_declined');
    }
    this.metrics.countAcquirer('lookup_absent');
    return 'absent';
  }

  /** An indeterminate answer: the attempt stays counted, the lease is let go. False when the lease was no longer ours. */
  private undecided(key: LeasedKey, outcome: string): Promise<boolean> {
    return inSpan('card_charge.undecided', { 'acquirer.outcome': outcome }, () => this.keys.indeterminate(key, outcome));
  }

  private needsLookup(key: LeasedKey): boolean {
    return key.lastOutcome === 'error500' || key.attempts >= this.config.acquirerLookupAfterAttempts || this.pastResendHorizon(key);
  }

  /** Well inside the acquirer's key retention: a quarter of it. */
  private pastResendHorizon(key: LeasedKey): boolean {
    return key.ageSeconds > this.config.acquirerKeyTtlSeconds / 4;
  }

  private async finishCaptured(key: LeasedKey, payment: AcquirerPayment): Promise<Advance> {
    const charge = toChargeDto({ ...key.charge, status: 'succeeded', amount_captured: key.charge.amount });
    const response: RecordedResponse = {
      status: 201,
      body: JSON.stringify(charge),
      headers: { 'content-type': 'application/json; charset=utf-8', location: `/v1/charges/${charge.id}` },
    };
    return this.finish(key, {
      status: 'succeeded',
      acquirerPaymentId: payment.id,
      declineCode: null,
      response,
      outcome: 'captured',
      entryIds: [newId('ent'), newId('ent')],
      event: { id: newId('evt'), type: 'charge.succeeded', object: charge },
    });
  }

  private async finishDeclined(key: LeasedKey, declineCode: string, outcome: string): Promise<Advance> {
    // Written as a recorded DomainError is on the one-transaction path (run-handler.ts).
    const response: RecordedResponse = {
      status: 402,
      body: JSON.stringify(problemOf(new CardDeclinedError(declineCode))),
      headers: { 'content-type': PROBLEM_CONTENT_TYPE },
    };
    return this.finish(key, {
      status: 'failed',
      acquirerPaymentId: null,
      declineCode,
      response,
      outcome,
      entryIds: [newId('ent'), newId('ent')],
      event: {
        id: newId('evt'),
        type: 'charge.failed',
        object: toChargeDto({ ...key.charge, status: 'failed', decline_code: declineCode }),
      },
    });
  }

  private async finish(key: LeasedKey, finish: Finish): Promise<Advance> {
    const times = await inSpan('card_charge.finish', { 'card_charge.outcome': finish.outcome }, () =>
      this.keys.finish(key, finish, this.config.idempotencyTtlSeconds),
    );
    if (!times) return this.lostLease();
    this.hooks.crashAt('after_tx3');
    // Counted once per charge: only the worker whose tx3 committed gets here.
    this.metrics.countCardCharge(finish.status === 'succeeded' ? 'succeeded' : 'card_declined');
    return { kind: 'finished', response: finish.response, expiresAt: times.expiresAt };
  }

  private lostLease(): Advance {
    this.metrics.countLeaseLost();
    return { kind: 'lost_lease' };
  }

  private countOutcome(outcome: 'mismatch' | 'replayed' | 'in_progress'): void {
    this.metrics.countIdempotency(outcome);
    setSpanAttributes({ 'idempotency.outcome': outcome });
  }

  /** Another request with a key that has a record. */
  private async resume(call: KeyedCall, record: CardKeyRecord, token: string): Promise<CardAnswer> {
    if (record.fingerprint !== call.fingerprint) {
      this.countOutcome('mismatch');
      throw new IdempotencyKeyReusedError();
    }
    if (record.response) {
      this.countOutcome('replayed');
      return { response: record.response, replayed: true, expiresAt: record.expiresAt };
    }
    if (record.leaseLive || record.recoveryPoint === null) {
      this.countOutcome('in_progress');
      throw new IdempotencyRequestInProgressError(1);
    }
    const key = await this.keys.takeLease(call, token, this.config.idempotencyLeaseSeconds);
    if (!key) {
      this.countOutcome('in_progress');
      throw new IdempotencyRequestInProgressError(1);
    }
    this.metrics.countLeaseTakeover('request');
    setSpanAttributes({ 'idempotency.outcome': 'resumed', 'charge.id': key.charge.id, 'card_charge.recovery_point': key.recoveryPoint });
    return this.drive(key);
  }

  /**
   * Advances the key, waiting CHARGE_WAIT_MS for it: a definitive answer is the response; no
   * answer in time, or none to be had yet, is 202 with the pending charge (not recorded). The
   * advance goes on after a 202 and commits tx3 when its answer comes.
   */
  private async drive(key: LeasedKey): Promise<CardAnswer> {
    const startedAt = key.recoveryPoint;
    const advancing = this.advance(key, 'request');
    const waited = await Promise.race([
      advancing,
      sleep(this.config.chargeWaitMs, undefined, { ref: false }).then(() => 'waited' as const),
    ]);
    if (waited === 'waited') {
      advancing.catch(() => undefined); // its failure leaves the key for a retry or the completer
      return this.pending(key.charge);
    }
    switch (waited.kind) {
      case 'finished':
        return { response: waited.response, replayed: false, expiresAt: waited.expiresAt };
      case 'unavailable':
        if (startedAt === 'started') {
          this.metrics.countCardCharge('acquirer_unavailable');
          throw new AcquirerUnavailableError(Math.max(1, Math.ceil(this.config.acquirerCircuitOpenMs / 1000)));
        }
        return this.pending(key.charge);
      case 'lost_lease': {
        // Answer from the record: whoever holds the key now finishes it.
        const record = await this.keys.find(key);
        if (record?.response) return { response: record.response, replayed: true, expiresAt: record.expiresAt };
        return this.pending(key.charge);
      }
      case 'undecided':
      case 'rolled_back':
        return this.pending(key.charge);
    }
  }

  private pending(charge: ChargeRow): CardAnswer {
    return {
      response: {
        status: 202,
        body: JSON.stringify(toChargeDto({ ...charge, status: 'pending' })),
        headers: {
          'content-type': 'application/json; charset=utf-8',
          location: `/v1/charges/${charge.id}`,
          'retry-after': String(PENDING_RETRY_AFTER_SECONDS),
        },
      },
      replayed: false,
      expiresAt: undefined,
    };
  }
}
