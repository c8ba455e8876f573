// Verifying the service's webhooks, signed per the Standard Webhooks specification
// (https://github.com/standard-webhooks/standard-webhooks): `webhook-signature` holds one or more
// `v1,<base64 HMAC-SHA256>` of "webhook-id.webhook-timestamp.body" with the endpoint's secret.
// WebCrypto only (crypto.subtle), so the same code runs in Node 20+ and in browsers.

/** Why a webhook was refused. */
export type WebhookVerificationFailure =
  'missing_header' | 'invalid_timestamp' | 'timestamp_too_old' | 'timestamp_too_new' | 'no_matching_signature' | 'payload_not_json';

/** The request is not a webhook of the service's to act on: answer it with a 4xx and do nothing. */
export class WebhookVerificationError extends Error {
  readonly reason: WebhookVerificationFailure;

  constructor(reason: WebhookVerificationFailure, message: string) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
  }
}

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way, in seconds (default 300): older is a replay. */
  toleranceSeconds?: number;
  /** The current time in milliseconds since the epoch, like Date.now (the default). */
  now?: () => number;
}

export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;
const SECRET_PREFIX = 'whsec_';
const SHA256_BYTES = 32;

/**
 * Checks that `payload` is a webhook the holder of `secret` signed within the tolerance, and returns
 * its parsed JSON body. `payload` must be the raw body as received (a string or the bytes): a body
 * parsed and serialised again is not what was signed. During a secret roll pass both secrets.
 * Throws WebhookVerificationError when the request is not to be trusted, and TypeError for a
 * mistake of the receiver's (an unusable secret, a parsed body, a broken clock), not of the request.
 */
export async function verifyWebhook(
  payload: string | Uint8Array,
  headers: WebhookHeaders,
  secret: string | readonly string[],
  options: VerifyWebhookOptions = {},
): Promise<unknown> {
  const keys = await importSecrets(typeof secret === 'string' ? [secret] : secret);
  if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
    throw new TypeError('verifyWebhook needs the raw body (a string or bytes), not a parsed one: its exact bytes were signed');
  }

  const id = requiredHeader(headers, 'webhook-id');
  const timestampText = requiredHeader(headers, 'webhook-timestamp');
  const signatureList = requiredHeader(headers, 'webhook-signature');

  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  const nowMs = (options.now ?? Date.now)();
  // A NaN here would make every comparison below false, and so accept any timestamp.
  if (!(toleranceSeconds >= 0) || !Number.isFinite(nowMs))
    throw new TypeError('verifyWebhook needs a tolerance of 0 s or more and a finite now()');
  const timestamp = parseTimestamp(timestampText);
  const nowSeconds = Math.floor(nowMs / 1000);
  if (timestamp < nowSeconds - toleranceSeconds) {
    throw new WebhookVerificationError(
      'timestamp_too_old',
      `The webhook-timestamp ${timestamp} is more than ${toleranceSeconds} s in the past.`,
    );
  }
  if (timestamp > nowSeconds + toleranceSeconds) {
    throw new WebhookVerificationError(
      'timestamp_too_new',
      `The webhook-timestamp ${timestamp} is more than ${toleranceSeconds} s in the future.`,
    );
  }

  const body = typeof payload === 'string' ? new TextEncoder().encode(payload) : payload;
  const prefix = new TextEncoder().encode(`${id}.${timestampText}.`);
  const signed = new Uint8Array(prefix.length + body.length);
  signed.set(prefix);
  signed.set(body, prefix.length);

  const candidates = v1Signatures(signatureList);
  let matched = false;
  for (const key of keys) {
    const expected = new Uint8Array(await crypto.subtle.sign('HMAC', key, signed));
    // Every candidate is compared in full, whatever matched before: the time taken says nothing of the secret.
    for (const candidate of candidates) if (equalInConstantTime(expected, candidate)) matched = true;
  }
  if (!matched) throw new WebhookVerificationError('no_matching_signature', 'No v1 signature of the webhook matches the secret.');

  try {
    const text = typeof payload === 'string' ? payload : new TextDecoder('utf-8', { fatal: true }).decode(payload);
    return JSON.parse(text) as unknown;
  } catch {
    throw new WebhookVerificationError('payload_not_json', 'The webhook is signed but its body is not JSON.');
  }
}

async function importSecrets(secrets: readonly string[]): Promise<CryptoKey[]> {
  if (secrets.length === 0) throw new TypeError('verifyWebhook needs at least one secret');
  return Promise.all(
    secrets.map((secret) => {
      const key = decodeBase64(secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret);
      if (key === undefined || key.length === 0)
        throw new TypeError(`A webhook secret is "${SECRET_PREFIX}" followed by base64; this one is not.`);
      return crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    }),
  );
}

/** A header by its name in any case, repeated values joined as HTTP joins them; missing or blank is refused. */
function requiredHeader(headers: WebhookHeaders, name: string): string {
  let value: string | undefined;
  if (headers instanceof Headers) value = headers.get(name) ?? undefined;
  else {
    for (const [key, values] of Object.entries(headers)) {
      if (key.toLowerCase() === name && values !== undefined) value = typeof values === 'string' ? values : values.join(', ');
    }
  }
  if (value === undefined || value.trim() === '') throw new WebhookVerificationError('missing_header', `The ${name} header is missing.`);
  return value;
}

function parseTimestamp(text: string): number {
  const seconds = Number(text);
  if (!/^\d{1,15}$/.test(text)) {
    throw new WebhookVerificationError(
      'invalid_timestamp',
      `The webhook-timestamp "${text}" is not a time in whole seconds since the epoch.`,
    );
  }
  return seconds;
}

/**
 * The decoded v1 signatures of a space-separated list; other versions (v1a, …) and entries that
 * are not a SHA-256 in base64 are ignored.
 */
function v1Signatures(list: string): Uint8Array[] {
  const signatures: Uint8Array[] = [];
  for (const entry of list.split(/\s+/)) {
    // A third part is ignored: it is the comma Headers.get leaves after a line it joined to the next.
    const [version, encoded] = entry.split(',');
    if (version !== 'v1' || encoded === undefined) continue;
    const bytes = decodeBase64(encoded);
    if (bytes?.length === SHA256_BYTES) signatures.push(bytes);
  }
  return signatures;
}

/** Standard base64, padding optional; undefined when it is not base64. */
function decodeBase64(encoded: string): Uint8Array<ArrayBuffer> | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(encoded)) return undefined;
  try {
    return Uint8Array.from(atob(encoded), (character) => character.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function equalInConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let index = 0; index < a.length; index++) difference |= (a[index] ?? 0) ^ (b[index] ?? 0);
  return difference === 0;
}
