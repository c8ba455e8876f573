import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import { answerTimeoutSignal } from '../common/answer-deadline.js';

/** What a card charge asks the acquirer for: the same key and body on every attempt. */
export interface PaymentRequest {
  /** Our charge id: the acquirer's Idempotency-Key and the payment's reference. */
  chargeId: string;
  amount: number;
  currency: string;
  paymentMethod: string;
}

/** A payment as the acquirer holds it (acquirer/README.md). */
export interface AcquirerPayment {
  id: string;
  status: 'captured' | 'authorized' | 'declined';
  amount: number;
  currency: string;
  decline_code: string | null;
  reference: string | null;
}

/**
 * What one request to the acquirer came to. Definitive answers end the key (tx3); every other one
 * leaves it where it is: the payment may or may not exist.
 */
export type AcquirerAnswer =
  | { kind: 'captured'; payment: AcquirerPayment }
  | { kind: 'declined'; declineCode: string }
  /** 422: the acquirer holds this key with another body. We send the same body every time, so never expected. */
  | { kind: 'refused' }
  /** 500, cached under the key by the acquirer: only the lookup tells whether it captured. */
  | { kind: 'error500' }
  /** Timeout, reset, refused connection, 503, 409 in flight, or anything unexpected. */
  | { kind: 'indeterminate'; reason: AcquirerOutcome };

/** The label of an answer in acquirer_requests_total. */
export type AcquirerOutcome =
  'captured' | 'declined' | 'refused' | 'error500' | 'timeout' | 'network' | 'unavailable' | 'in_flight' | 'unexpected';

export function outcomeOf(answer: AcquirerAnswer): AcquirerOutcome {
  return answer.kind === 'indeterminate' ? answer.reason : answer.kind;
}

/**
 * The acquirer over HTTP, with a circuit: after acquirerCircuitThreshold answers in a row that say
 * it cannot be reached (timeout, connection refused or reset, 503), the circuit is open for
 * acquirerCircuitOpenMs, and a new card charge is refused before its request would leave.
 */
@Injectable()
export class AcquirerClient {
  private failuresInARow = 0;
  private openUntil = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  /** True while the circuit is open: nothing is sent. */
  get circuitOpen(): boolean {
    return performance.now() < this.openUntil;
  }

  async pay(request: PaymentRequest): Promise<AcquirerAnswer> {
    const answer = await this.send(request);
    this.count(answer);
    return answer;
  }

  /**
   * The reconciliation read: the captured payment made with this reference, null when there is
   * none (or only a decline: then `declined`), undefined when the acquirer did not answer.
   */
  async lookup(chargeId: string): Promise<{ captured: AcquirerPayment | null; declined: AcquirerPayment | null } | undefined> {
    try {
      const response = await fetch(`${this.config.acquirerUrl}/v1/payments?reference=${encodeURIComponent(chargeId)}`, {
        signal: answerTimeoutSignal(this.config.acquirerTimeoutMs),
      });
      if (response.status !== 200) return undefined;
      const { data } = (await response.json()) as { data: AcquirerPayment[] };
      const ours = data.filter((payment) => payment.reference === chargeId);
      return {
        captured: ours.find((payment) => payment.status === 'captured') ?? null,
        declined: ours.find((payment) => payment.status === 'declined') ?? null,
      };
    } catch {
      return undefined;
    }
  }

  private async send(request: PaymentRequest): Promise<AcquirerAnswer> {
    let response: Response;
    let body: Record<string, unknown>;
    try {
      response = await fetch(`${this.config.acquirerUrl}/v1/payments`, {
        method: 'POST',
        // Without the key (a test-only switch) every attempt is a new payment: the checker must see it.
        headers: this.config.acquirerKeyStripped
          ? { 'content-type': 'application/json' }
          : { 'content-type': 'application/json', 'idempotency-key': request.chargeId },
        body: JSON.stringify({
          amount: request.amount,
          currency: request.currency,
          payment_method: request.paymentMethod,
          capture: true,
          reference: request.chargeId,
        }),
        signal: answerTimeoutSignal(this.config.acquirerTimeoutMs),
      });
      body = (await response.json()) as Record<string, unknown>;
    } catch (error) {
      // The request may have arrived and taken effect: a lost answer and a timeout look the same.
      return { kind: 'indeterminate', reason: error instanceof DOMException && error.name === 'TimeoutError' ? 'timeout' : 'network' };
    }
    switch (response.status) {
      case 201:
        return { kind: 'captured', payment: body as unknown as AcquirerPayment };
      case 402:
        return { kind: 'declined', declineCode: typeof body.decline_code === 'string' ? body.decline_code : 'generic_decline' };
      case 422:
        return { kind: 'refused' };
      case 500:
        return { kind: 'error500' };
      case 503:
        return { kind: 'indeterminate', reason: 'unavailable' };
      case 409:
        return { kind: 'indeterminate', reason: 'in_flight' };
      default:
        return { kind: 'indeterminate', reason: 'unexpected' };
    }
  }

  private count(answer: AcquirerAnswer): void {
    const unreachable = answer.kind === 'indeterminate' && ['timeout', 'network', 'unavailable'].includes(answer.reason);
    if (!unreachable) {
      this.failuresInARow = 0;
      return;
    }
    this.failuresInARow++;
    if (this.failuresInARow >= this.config.acquirerCircuitThreshold) {
      this.openUntil = performance.now() + this.config.acquirerCircuitOpenMs;
      this.failuresInARow = 0;
    }
  }
}
