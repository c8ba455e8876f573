import { inputProblem, MAX_JSON_DEPTH } from './input-limits.js';

describe('inputProblem', () => {
  it('accepts ordinary requests', () => {
    expect(inputProblem('body', { amount: 1, metadata: { a: 'b' }, list: [1, 'x', null] })).toBeUndefined();
    expect(inputProblem('query', { limit: '10' })).toBeUndefined();
    expect(inputProblem('body', undefined)).toBeUndefined();
  });

  it('finds a NUL anywhere', () => {
    expect(inputProblem('body', { name: 'a\u0000b' })).toEqual({ field: 'body.name', message: 'must not contain NUL characters' });
    expect(inputProblem('params', { id: '\u0000' })?.field).toBe('params.id');
    expect(inputProblem('body', { metadata: { ['k\u0000']: 'v' } })?.message).toContain('keys');
    expect(inputProblem('body', [['x\u0000']])?.field).toBe('body.0.0');
  });

  it('refuses deep nesting without overflowing itself', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(inputProblem('body', deep)?.message).toContain(`${MAX_JSON_DEPTH} levels`);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = { a: ok };
    expect(inputProblem('body', ok)).toBeUndefined();
  });
});
