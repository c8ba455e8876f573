import { newId } from './ids.js';

describe('newId', () => {
  it('makes distinct ids with their prefix and 20 characters of randomness, across refills of its pool', () => {
    const ids = Array.from({ length: 1_000 }, () => newId('ch'));
    expect(new Set(ids).size).toBe(1_000);
    for (const id of ids) expect(id).toMatch(/^ch_[A-Za-z0-9_-]{20}$/);
  });
});
