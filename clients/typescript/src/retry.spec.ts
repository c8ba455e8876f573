import { describe, expect, it } from '@jest/globals';
import { backoffDelayMs, isUndecided, parseRetryAfter, retryDelayMs, seededRandom } from './retry.js';

const policy = { baseDelayMs: 100, maxDelayMs: 2_000 };

function schedule(seed: number, retries = 8): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: retries }, (_, index) => backoffDelayMs(index + 1, policy, random));
}

describe('backoff schedule', () => {
  it('is reproducible from its seed', () => {
    expect(schedule(42)).toEqual([60, 89, 340, 535, 279, 1053, 546, 1249]);
    expect(schedule(42)).toEqual(schedule(42));
    expect(schedule(43)).not.toEqual(schedule(42));
  });

  it('waits a random time below a ceiling that doubles from baseDelayMs up to maxDelayMs', () => {
    const ceilings = [100, 200, 400, 800, 1600, 2000, 2000, 2000];
    for (let seed = 1; seed <= 200; seed++) {
      schedule(seed).forEach((delay, index) => {
        expect(Number.isInteger(delay)).toBe(true);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceilings[index]!);
      });
    }
  });

  it('spreads over the whole range (full jitter), so clients that failed together come back apart', () => {
    const random = seededRandom(7);
    const delays = Array.from({ length: 1000 }, () => backoffDelayMs(4, policy, random));
    expect(Math.min(...delays)).toBeLessThan(80);
    expect(Math.max(...delays)).toBeGreaterThan(720);
    const mean = delays.reduce((sum, delay) => sum + delay, 0) / delays.length;
    expect(mean).toBeGreaterThan(360);
    expect(mean).toBeLessThan(440);
  });

  it('stays at maxDelayMs however many retries', () => {
    expect(backoffDelayMs(1_000, policy, () => 0.999)).toBe(1_998);
  });

  it('never retries before Retry-After, and keeps the backoff when it is longer', () => {
    expect(retryDelayMs(1, 3_000, policy, () => 0.5)).toBe(3_000);
    expect(retryDelayMs(6, 1_000, policy, () => 0.75)).toBe(1_500);
    expect(retryDelayMs(2, undefined, policy, () => 0.5)).toBe(100);
  });
});

describe('Retry-After', () => {
  const now = Date.parse('Sun, 23 Nov 2026 14:00:00 GMT');

  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfter('1', now)).toBe(1_000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('Sun, 23 Nov 2026 14:00:05 GMT', now)).toBe(5_000);
  });

  it('treats a date in the past as now, and anything unreadable as absent', () => {
    expect(parseRetryAfter('Sun, 23 Nov 2026 13:59:00 GMT', now)).toBe(0);
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('which answers are retried', () => {
  it.each([
    [429, 'rate_limited'],
    [503, 'unavailable'],
    [503, undefined],
    [409, 'idempotency_request_in_progress'],
  ])('%i %s: not decided yet, retried', (status, code) => {
    expect(isUndecided(status, code)).toBe(true);
  });

  it.each([
    [400, 'validation_failed'],
    [400, 'idempotency_key_invalid'],
    [401, 'unauthenticated'],
    [402, 'insufficient_funds'],
    [404, 'not_found'],
    [409, 'invalid_state'],
    [412, 'precondition_failed'],
    [413, 'payload_too_large'],
    [422, 'idempotency_key_reused'],
    [422, 'currency_mismatch'],
    [500, 'internal_error'],
    [502, undefined],
  ])('%i %s: final, never retried', (status, code) => {
    expect(isUndecided(status, code)).toBe(false);
  });
});
