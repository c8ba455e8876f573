import { createHash } from 'node:crypto';
import { IdempotencyKeyInvalidError, IdempotencyKeyMissingError } from './idempotency.errors.js';

const VISIBLE_ASCII = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header, checked: 1-255 visible ASCII characters, sent once. */
export function parseIdempotencyKey(header: string | string[] | undefined): string {
  if (header === undefined) throw new IdempotencyKeyMissingError();
  if (Array.isArray(header) || !VISIBLE_ASCII.test(header)) throw new IdempotencyKeyInvalidError();
  return header;
}

/** JSON with object keys sorted at every depth: key order and whitespace do not matter. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return '';
  return JSON.stringify(value, (_key, current: unknown) => {
    if (current === null || typeof current !== 'object' || Array.isArray(current)) return current;
    const entries = Object.entries(current as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return Object.fromEntries(entries);
  });
}

/** What "the same request" means for a key: method, path and canonical body. */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash('sha256')
    .update(`${method}\n${url}\n${canonicalJson(body)}`)
    .digest('base64url');
}
