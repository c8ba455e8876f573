import { ValidationFailedError } from '../common/domain-error.js';
import { ApiAccepted } from '../common/openapi.js';
import { CHARGE_EXAMPLE, ChargeDto, type CreateChargeDto } from '../charges/dto/charge.dto.js';

/** A POST /v1/charges body that names a card: it runs as a card charge (the interceptor asks before validation). */
export function isCardChargeBody(body: unknown): boolean {
  return typeof body === 'object' && body !== null && 'payment_method' in body;
}

/** What the field validators cannot say about a card charge's body: 400, nothing written. */
export function assertCardCharge(body: CreateChargeDto): void {
  const errors = [];
  if (body.source !== undefined) errors.push({ field: 'source', message: 'source and payment_method are mutually exclusive' });
  if (body.capture === false)
    errors.push({ field: 'capture', message: 'a card charge is captured at once: capture false is not supported' });
  if (errors.length > 0) throw new ValidationFailedError(errors);
}

export const PENDING_CHARGE_EXAMPLE: ChargeDto = {
  ...CHARGE_EXAMPLE,
  source: null,
  payment_method: 'pm_test_ok',
  decline_code: null,
  status: 'pending',
  captured: false,
  amount_captured: 0,
};

/** The 202 of a card charge still waiting for its acquirer. */
export const ApiPending = () =>
  ApiAccepted({
    type: ChargeDto,
    description:
      'A card charge whose acquirer has not answered definitively yet (status pending). Not recorded: poll Location, or repeat the POST with the same key and body after Retry-After; the charge ends succeeded or failed.',
    example: PENDING_CHARGE_EXAMPLE,
  });
