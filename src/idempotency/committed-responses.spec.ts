import { CommittedResponses } from './committed-responses.js';

const answer = (body: string, expiresInMs = 60_000, now = 1_000_000) => ({
  fingerprint: 'fp',
  response: { status: 201, body, headers: {} },
  createdAt: new Date(now),
  expiresAt: new Date(now + expiresInMs),
});

describe('CommittedResponses', () => {
  it('returns what was remembered, per merchant and key', () => {
    const cache = new CommittedResponses(10, 1_000_000);
    cache.remember('m1', 'k', answer('one'));
    expect(cache.get('m1', 'k', 1_000_000)?.response.body).toBe('one');
    expect(cache.get('m2', 'k', 1_000_000)).toBeUndefined();
  });

  it('forgets an answer before it expires in the database', () => {
    const cache = new CommittedResponses(10, 1_000_000);
    cache.remember('m', 'k', answer('one', 10_000));
    expect(cache.get('m', 'k', 1_000_000 + 4_000)).toBeDefined();
    expect(cache.get('m', 'k', 1_000_000 + 5_000)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('drops the least recently used beyond its bounds in entries and bytes', () => {
    const cache = new CommittedResponses(2, 1_000_000);
    cache.remember('m', 'a', answer('a'));
    cache.remember('m', 'b', answer('b'));
    cache.get('m', 'a', 1_000_000);
    cache.remember('m', 'c', answer('c'));
    expect(cache.get('m', 'b', 1_000_000)).toBeUndefined();
    expect(cache.get('m', 'a', 1_000_000)).toBeDefined();

    const small = new CommittedResponses(100, 1_000);
    small.remember('m', 'big', answer('x'.repeat(2_000)));
    expect(small.size).toBe(0);
    for (const key of ['1', '2', '3', '4', '5']) small.remember('m', key, answer('y'.repeat(300)));
    expect(small.size).toBeLessThan(5);
  });

  it('remembers nothing when sized to zero', () => {
    const cache = new CommittedResponses(0, 0);
    cache.remember('m', 'k', answer('one'));
    expect(cache.size).toBe(0);
  });
});
