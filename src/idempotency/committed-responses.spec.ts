import { CommittedResponses } from './committed-responses.js';

const answer = (body: string, secondsLeft = 60) => ({
  fingerprint: 'fp',
  response: { status: 201, body, headers: {} },
  expiresAt: new Date('2030-01-01T00:00:00Z'),
  secondsLeft,
  ageSeconds: 0,
});

/** A monotonic clock the test moves by hand. */
function clock(start = 1_000_000) {
  const state = { now: start };
  return { state, now: () => state.now };
}

describe('CommittedResponses', () => {
  it('returns what was remembered, per merchant and key', () => {
    const time = clock();
    const cache = new CommittedResponses(10, 1_000_000, time.now);
    cache.remember('m1', 'k', answer('one'));
    expect(cache.get('m1', 'k')?.response.body).toBe('one');
    expect(cache.get('m2', 'k')).toBeUndefined();
  });

  it('forgets an answer a second before the time the database said it had left, on its own monotonic clock', () => {
    const time = clock();
    const cache = new CommittedResponses(10, 1_000_000, time.now);
    cache.remember('m', 'k', answer('one', 10));
    time.state.now += 8_999;
    expect(cache.get('m', 'k')).toBeDefined();
    time.state.now += 1;
    expect(cache.get('m', 'k')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never reads the wall clock: an answer is kept as long, wherever Date.now() stands', () => {
    const realNow = Date.now;
    const time = clock();
    const cache = new CommittedResponses(10, 1_000_000, time.now);
    try {
      // expiresAt says 2030: a process whose wall clock ran past it must still keep the answer for
      // the seconds the database said; one set an hour back must not keep it longer.
      Date.now = () => new Date('2031-01-01T00:00:00Z').getTime();
      cache.remember('m', 'ahead', answer('a', 10));
      expect(cache.get('m', 'ahead')).toBeDefined();
      Date.now = () => realNow() - 3_600_000;
      time.state.now += 10_000;
      expect(cache.get('m', 'ahead')).toBeUndefined();
    } finally {
      Date.now = realNow;
    }
  });

  it('measures a replayed answer’s age from the age the database gave it', () => {
    const time = clock();
    const cache = new CommittedResponses(10, 1_000_000, time.now);
    cache.remember('m', 'k', { ...answer('one'), ageSeconds: 30 });
    time.state.now += 5_000;
    expect(cache.get('m', 'k')?.ageSeconds).toBe(35);
  });

  it('does not keep an answer with less than the margin left', () => {
    const cache = new CommittedResponses(10, 1_000_000, clock().now);
    cache.remember('m', 'k', answer('one', 0.5));
    expect(cache.size).toBe(0);
  });

  it('drops the least recently used beyond its bounds in entries and bytes', () => {
    const cache = new CommittedResponses(2, 1_000_000, clock().now);
    cache.remember('m', 'a', answer('a'));
    cache.remember('m', 'b', answer('b'));
    cache.get('m', 'a');
    cache.remember('m', 'c', answer('c'));
    expect(cache.get('m', 'b')).toBeUndefined();
    expect(cache.get('m', 'a')).toBeDefined();

    const small = new CommittedResponses(100, 1_000, clock().now);
    small.remember('m', 'big', answer('x'.repeat(2_000)));
    expect(small.size).toBe(0);
    for (const key of ['1', '2', '3', '4', '5']) small.remember('m', key, answer('y'.repeat(300)));
    expect(small.size).toBeLessThan(5);
  });

  it('remembers nothing when sized to zero', () => {
    const cache = new CommittedResponses(0, 0, clock().now);
    cache.remember('m', 'k', answer('one'));
    expect(cache.size).toBe(0);
  });
});
