import { exactJson } from './exact-json.js';

describe('exactJson', () => {
  it('writes bigints as exact integers and everything else as JSON.stringify does', () => {
    const value = { object: 'balance', available: [{ currency: 'usd', amount: 18_014_398_509_481_981n }], small: -5n, n: 1.5, s: 'a"b' };
    expect(exactJson(value)).toBe(
      '{"object":"balance","available":[{"currency":"usd","amount":18014398509481981}],"small":-5,"n":1.5,"s":"a\\"b"}',
    );
    expect(exactJson({ a: [] })).toBe('{"a":[]}');
  });
});
