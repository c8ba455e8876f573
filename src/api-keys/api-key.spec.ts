import { bearerToken, hashApiKey, merchantIdOfApiKey, newApiKey, sameSecret } from './api-key.js';

describe('API keys', () => {
  it('carry the merchant id and hash deterministically', () => {
    const key = newApiKey('mer_abc123');
    expect(merchantIdOfApiKey(key)).toBe('mer_abc123');
    expect(hashApiKey(key)).toBe(hashApiKey(key));
    expect(hashApiKey(key)).not.toContain(key);
    expect(newApiKey('mer_abc123')).not.toBe(key);
  });

  it('reject what is not a key', () => {
    expect(merchantIdOfApiKey('sk_mer_abc')).toBeUndefined();
    expect(merchantIdOfApiKey('mer_abc.' + 'x'.repeat(43))).toBeUndefined();
    expect(merchantIdOfApiKey("sk_mer_a'b." + 'x'.repeat(43))).toBeUndefined();
  });

  it('read a bearer token', () => {
    expect(bearerToken('Bearer abc')).toBe('abc');
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });

  it('compare secrets', () => {
    expect(sameSecret('a', 'a')).toBe(true);
    expect(sameSecret('a', 'b')).toBe(false);
  });
});
