import { IdempotencyKeyInvalidError, IdempotencyKeyMissingError } from './idempotency.errors.js';
import { canonicalJson, parseIdempotencyKey, requestFingerprint } from './request-fingerprint.js';

describe('parseIdempotencyKey', () => {
  it('accepts 1-255 visible ASCII characters', () => {
    expect(parseIdempotencyKey('a')).toBe('a');
    expect(parseIdempotencyKey('x'.repeat(255))).toHaveLength(255);
    expect(parseIdempotencyKey('order-42:try~1!')).toBe('order-42:try~1!');
  });

  it('rejects a missing key', () => {
    expect(() => parseIdempotencyKey(undefined)).toThrow(IdempotencyKeyMissingError);
  });

  it.each([[''], ['x'.repeat(256)], ['has space'], ['tab\t'], ['é'], ['line\nbreak']])('rejects %j', (key) => {
    expect(() => parseIdempotencyKey(key)).toThrow(IdempotencyKeyInvalidError);
  });

  it('rejects a key sent twice', () => {
    expect(() => parseIdempotencyKey(['a', 'b'])).toThrow(IdempotencyKeyInvalidError);
  });
});

describe('requestFingerprint', () => {
  it('ignores key order and whitespace at every depth', () => {
    const a = JSON.parse('{"amount": 1, "metadata": {"b": "2", "a": "1"}}');
    const b = JSON.parse('{"metadata":{"a":"1","b":"2"},"amount":1}');
    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(requestFingerprint('POST', '/v1/charges', a)).toBe(requestFingerprint('POST', '/v1/charges', b));
  });

  it('differs by method, path and body', () => {
    const base = requestFingerprint('POST', '/v1/charges', { amount: 1 });
    expect(requestFingerprint('PUT', '/v1/charges', { amount: 1 })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/accounts', { amount: 1 })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/charges', { amount: 2 })).not.toBe(base);
    expect(requestFingerprint('POST', '/v1/charges', [1, 2])).not.toBe(requestFingerprint('POST', '/v1/charges', [2, 1]));
  });

  it('treats no body and an empty object as different requests', () => {
    expect(requestFingerprint('POST', '/x', undefined)).not.toBe(requestFingerprint('POST', '/x', {}));
  });
});
