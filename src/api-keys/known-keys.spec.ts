import { KnownKeys } from './known-keys.js';

describe('KnownKeys', () => {
  const key = { merchantId: 'mer_a', keyId: 'key_a', scopes: null };
  let clock = 0;
  const now = () => clock;
  beforeEach(() => (clock = 1_000));

  it('remembers a key for the TTL, then asks again', () => {
    const known = new KnownKeys(1_000, 10, now);
    known.remember('h', key, null);
    clock += 999;
    expect(known.get('h')).toEqual({ known: key });
    clock += 1;
    expect(known.get('h')).toBeUndefined();
  });

  it('never past the key’s own expiry', () => {
    const known = new KnownKeys(1_000, 10, now);
    known.remember('h', key, 200);
    clock += 200;
    expect(known.get('h')).toBeUndefined();
    known.remember('h', key, 0);
    expect(known.get('h')).toBeUndefined();
  });

  it('remembers an unknown key for the TTL', () => {
    const known = new KnownKeys(1_000, 10, now);
    known.rememberUnknown('bad');
    expect(known.get('bad')).toEqual({ unknown: true });
    clock += 1_000;
    expect(known.get('bad')).toBeUndefined();
  });

  it('forgets a key at once', () => {
    const known = new KnownKeys(1_000, 10, now);
    known.remember('h', key, null);
    known.forget('h');
    expect(known.get('h')).toBeUndefined();
  });

  it('stays within its size, dropping the oldest', () => {
    const known = new KnownKeys(1_000, 2, now);
    known.remember('a', key, null);
    known.remember('b', key, null);
    known.rememberUnknown('c');
    expect(known.size).toBe(2);
    expect(known.get('a')).toBeUndefined();
    expect(known.get('b')).toEqual({ known: key });
    expect(known.get('c')).toEqual({ unknown: true });
  });
});
