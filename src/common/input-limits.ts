import type { FieldError } from './domain-error.js';

/** Deeper than this, a body is not a request of this API (the deepest real one is 3). */
export const MAX_JSON_DEPTH = 16;

/**
 * What no DTO can catch before it does harm: a NUL character (PostgreSQL text cannot hold one)
 * in any string or key of the path, query or body, and nesting deep enough to exhaust the stack
 * of recursive code (validation, the request fingerprint). Walks iteratively, so it cannot
 * overflow itself. Returns the first problem, or undefined.
 */
export function inputProblem(part: string, value: unknown): FieldError | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: part, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return { field: path, message: 'must not contain NUL characters' };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return { field: path, message: `must not be nested more than ${MAX_JSON_DEPTH} levels deep` };
    for (const [key, child] of Object.entries(current as Record<string, unknown>)) {
      if (key.includes('\u0000')) return { field: path, message: 'must not contain NUL characters in keys' };
      stack.push({ value: child, path: `${path}.${key.slice(0, 40)}`, depth: depth + 1 });
    }
  }
  return undefined;
}
