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
    expect(inputProblem('body', { list: [['x\u0000']] })?.field).toBe('body.list.0.0');
  });

  it('refuses deep nesting without overflowing itself', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(inputProblem('body', { deep })?.message).toContain(`${MAX_JSON_DEPTH} levels`);
    let ok: unknown = 1;
    for (let i = 0; i < MAX_JSON_DEPTH; i++) ok = { a: ok };
    expect(inputProblem('body', ok)).toBeUndefined();
  });

  it('finds a lone surrogate anywhere, and lets surrogate pairs through', () => {
    expect(inputProblem('body', { metadata: { a: '\ud800' } })).toEqual({
      field: 'body.metadata.a',
      message: 'must be well-formed Unicode (no lone surrogates)',
    });
    expect(inputProblem('body', { name: 'x\udc00y' })?.field).toBe('body.name');
    expect(inputProblem('body', { metadata: { ['\udbff']: 'v' } })?.message).toContain('keys');
    expect(inputProblem('query', { source: '\ud83d' })?.field).toBe('query.source');
    expect(inputProblem('body', { name: 'emoji \ud83d\ude00 and e\u0301' })).toBeUndefined();
  });

  it('takes a body only as a JSON object', () => {
    for (const body of [null, [], [1], 1, 'x', true]) {
      expect(inputProblem('body', body)).toEqual({ field: 'body', message: 'must be a JSON object' });
    }
    expect(inputProblem('body', {})).toBeUndefined();
  });

  it('refuses the keys the framework would silently delete', () => {
    for (const key of ['constructor', 'prototype', '__proto__']) {
      const body = JSON.parse(`{"metadata": {"${key}": "x"}}`) as unknown;
      expect(inputProblem('body', body)).toEqual({ field: 'body.metadata', message: `must not have a key named '${key}' (reserved)` });
    }
    expect(inputProblem('body', { metadata: { toString: 'x', valueOf: 'y' } })).toBeUndefined();
  });
});
