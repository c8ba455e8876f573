import { etagOf, parseIfMatch } from './etag.js';

describe('ETag / If-Match', () => {
  it('quotes the version', () => expect(etagOf(3)).toBe('"3"'));

  it('parses If-Match forms', () => {
    expect(parseIfMatch(undefined)).toBeUndefined();
    expect(parseIfMatch('*')).toEqual({ any: true });
    expect(parseIfMatch('"3"')).toEqual({ versions: [3] });
    expect(parseIfMatch('W/"3", "4"')).toEqual({ versions: [3, 4] });
    expect(parseIfMatch('3')).toEqual({ versions: [] });
    expect(parseIfMatch('"abc"')).toEqual({ versions: [] });
  });
});
