import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// API keys look like `sk_<merchant id>.<secret>`. Carrying the merchant id lets the lookup use the
// (merchant_id, key_hash) primary key, which stays on the merchant's shard when distributed.

export function newApiKey(merchantId: string): string {
  return `sk_${merchantId}.${randomBytes(32).toString('base64url')}`;
}

/** What tells a key apart without revealing it: its prefix and the last four characters of its secret. */
export function apiKeyHint(merchantId: string, apiKey: string): string {
  return `sk_${merchantId}.…${apiKey.slice(-4)}`;
}

/** Only this is stored. */
export function hashApiKey(apiKey: string): string {
  return createHash('sha256').update(apiKey).digest('hex');
}

/** The merchant id a key claims, or undefined for something that is not a key at all. */
export function merchantIdOfApiKey(apiKey: string): string | undefined {
  const match = /^sk_(mer_[A-Za-z0-9_-]{1,64})\.[A-Za-z0-9_-]{20,100}$/.exec(apiKey);
  return match?.[1];
}

export function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(authorization ?? '');
  return match?.[1];
}

/** Constant-time comparison, so the admin token cannot be guessed byte by byte. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
