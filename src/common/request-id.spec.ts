import type { IncomingMessage } from 'node:http';
import { requestIdOf } from './request-id.js';

const ADMIN = 'admin-token-0123456789abcdef';
const KEY = 'sk_mer_3kTz0q8WcXnB1vYp2LmR.vWnfFgc1f_yfbhNWBADX7nwtMW8jMkJNum9MS5iXukY';

function idOf(given: string | undefined, authorization?: string): string {
  const headers: Record<string, string> = {};
  if (given !== undefined) headers['x-request-id'] = given;
  if (authorization !== undefined) headers.authorization = authorization;
  return requestIdOf({ headers } as unknown as IncomingMessage, [ADMIN]);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('X-Request-Id', () => {
  it.each(['trace-123', 'order-7:pay', 'a', 'A.b_c:d-e', 'x'.repeat(128)])('keeps %s', (given) => {
    expect(idOf(given, `Bearer ${KEY}`)).toBe(given);
  });

  it.each(['', 'x'.repeat(129), 'with space', 'slash/no', 'ünïcode', 'new\\nline'])('replaces %j with a UUID', (given) => {
    expect(idOf(given)).toMatch(UUID);
  });

  it.each([
    ['an API key', KEY, undefined],
    ['any sk_ key, even one not the caller’s', 'sk_mer_other.abcdefghijklmnopqrstuvwxyz', undefined],
    ['the admin token', ADMIN, undefined],
    ['the admin token inside a longer id', `req:${ADMIN}`, undefined],
    ['the secret half of the caller’s own key', KEY.split('.')[1]!, `Bearer ${KEY}`],
    ['the caller’s own bearer token, whatever its shape', 'opaque-token-9876543210', 'Bearer opaque-token-9876543210'],
  ])('never keeps a secret: %s is replaced', (_, given, authorization) => {
    expect(idOf(given, authorization)).toMatch(UUID);
  });
});
