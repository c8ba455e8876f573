import { createHmac, randomBytes } from 'node:crypto';

// Signatures of outgoing webhooks per the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks, spec/standard-webhooks.md): an
// HMAC-SHA256 over "id.timestamp.payload" with the endpoint's secret, sent as
// `webhook-signature: v1,<base64>`. Pure: no clock, no database; the delivery worker passes the
// attempt's time and the endpoint's secrets.

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
/** The specification allows 24 to 64 random bytes; 32 is SHA-256's own size, and more adds nothing to HMAC-SHA256. */
const NEW_SECRET_BYTES = 32;
const MIN_SECRET_BYTES = 24;
const MAX_SECRET_BYTES = 64;
const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export interface WebhookMessage {
  /** The event's id: the same for every attempt, so that receivers can drop repeats. */
  id: string;
  /** When this attempt is made (not when the event happened); sent in whole seconds. */
  timestamp: Date;
  /** The exact bytes of the body that will be sent: a receiver verifies those, not a re-serialisation. */
  payload: string | Uint8Array;
}

/** A type, not an interface, so that it passes as a record of headers (fetch, node:http) as it is. */
export type WebhookSignatureHeaders = {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
};

/** A new endpoint secret in the specification's serialisation: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(NEW_SECRET_BYTES).toString('base64');
}

/** Whether a stored secret has the form this module signs with (`whsec_`, 24 to 64 bytes of standard base64). */
export function isWebhookSecret(secret: string): boolean {
  return decodeSecret(secret) !== undefined;
}

/**
 * The headers of one delivery attempt. Several secrets sign during a secret roll (the new and the
 * old): one `v1,` signature each, space-separated, and a receiver accepts any that matches.
 */
export function signWebhook(message: WebhookMessage, secrets: readonly string[]): WebhookSignatureHeaders {
  // A full stop in the id would let "a.b" + "c" and "a" + "b.c" sign the same content (the specification warns of it).
  if (message.id.length === 0 || message.id.includes('.'))
    throw new RangeError(`a webhook id must be non-empty and without '.': ${message.id}`);
  const milliseconds = message.timestamp.getTime();
  if (!Number.isFinite(milliseconds) || milliseconds < 0) throw new RangeError('a webhook timestamp must be a valid date after 1970');
  if (secrets.length === 0) throw new RangeError('a webhook is signed with at least one secret');
  const timestamp = String(Math.floor(milliseconds / 1000));
  const signatures = secrets.map((secret) => {
    const key = decodeSecret(secret);
    if (key === undefined)
      throw new RangeError(`a webhook secret is '${WEBHOOK_SECRET_PREFIX}' and ${MIN_SECRET_BYTES} to ${MAX_SECRET_BYTES} bytes in base64`);
    const hmac = createHmac('sha256', key).update(`${message.id}.${timestamp}.`).update(message.payload).digest('base64');
    return `v1,${hmac}`;
  });
  return { 'webhook-id': message.id, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

function decodeSecret(secret: string): Buffer | undefined {
  if (!secret.startsWith(WEBHOOK_SECRET_PREFIX)) return undefined;
  const encoded = secret.slice(WEBHOOK_SECRET_PREFIX.length);
  // Buffer.from(…, 'base64') skips what is not base64; a stored secret is checked strictly instead.
  if (!STANDARD_BASE64.test(encoded)) return undefined;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= MIN_SECRET_BYTES && key.length <= MAX_SECRET_BYTES ? key : undefined;
}
