import { asciiLowerCase, looksLikeCardNumber, maskCardNumbers, maskUrlForLog, metadataProblem } from './validators.js';

describe('looksLikeCardNumber', () => {
  it.each(['4242424242424242', 'card 4242 4242 4242 4242', '4000-0566-5566-5556', '3782822463100050'])('flags %s', (value) => {
    expect(looksLikeCardNumber(value)).toBe(true);
  });

  it.each(['order 42', '123456789012', 'phone +44 20 7946 0958', '12345678901234567890123'])('lets %s through', (value) => {
    expect(looksLikeCardNumber(value)).toBe(false);
  });
});

describe('maskCardNumbers', () => {
  it('replaces every card-like run and nothing else', () => {
    expect(maskCardNumbers('/v1/accounts/4242424242424242/entries?x=4000 0566 5566 5556&limit=10')).toBe(
      '/v1/accounts/[card number removed]/entries?x=[card number removed]&limit=10',
    );
    expect(maskCardNumbers('/v1/charges?limit=10')).toBe('/v1/charges?limit=10');
  });
});

describe('metadataProblem', () => {
  it('accepts up to 20 string keys', () => {
    const twenty = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']));
    expect(metadataProblem({})).toBeUndefined();
    expect(metadataProblem(twenty)).toBeUndefined();
  });

  it.each([
    [[], 'must be an object'],
    [null, 'must be an object'],
    [Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, 'v'])), 'at most 20 keys'],
    [{ ['k'.repeat(41)]: 'v' }, 'keys must be'],
    [{ a: 1 }, 'must be a string'],
    [{ a: 'v'.repeat(501) }, 'at most 500'],
    [{ a: '4242424242424242' }, 'card number'],
  ])('rejects %j', (value, message) => {
    expect(metadataProblem(value)).toContain(message);
  });
});

describe('maskUrlForLog', () => {
  it('removes API keys wherever they stand, and the values of secret-named parameters', () => {
    const key = 'sk_mer_abc123.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_';
    expect(maskUrlForLog(`/v1/accounts?api_key=${key}&limit=10`)).toBe('/v1/accounts?api_key=[removed]&limit=10');
    expect(maskUrlForLog(`/v1/accounts?k=${key}`)).toBe('/v1/accounts?k=sk_[removed]');
    expect(maskUrlForLog(`/v1/${key}/x`)).toBe('/v1/sk_[removed]/x');
    expect(maskUrlForLog('/v1/charges?token=admin-secret&Password=x&access_key=y&limit=2')).toBe(
      '/v1/charges?token=[removed]&Password=[removed]&access_key=[removed]&limit=2',
    );
    expect(maskUrlForLog('/v1/charges?x=4242424242424242')).toBe('/v1/charges?x=[card number removed]');
    expect(maskUrlForLog('/v1/charges?limit=10&starting_after=ch_1')).toBe('/v1/charges?limit=10&starting_after=ch_1');
  });
});

describe('asciiLowerCase', () => {
  it('lowercases A-Z and nothing else', () => {
    expect(asciiLowerCase('USD')).toBe('usd');
    expect(asciiLowerCase('\u212Arw')).toBe('\u212Arw');
    expect(asciiLowerCase('\u0130')).toBe('\u0130');
  });
});
