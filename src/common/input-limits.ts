import type { FieldError } from './domain-error.js';

/** The largest body the service reads (the contract's 100 KiB): larger is 413 payload_too_large. */
export const BODY_LIMIT_BYTES = 100 * 1024;

/** Deeper than this, a body is not a request of this API (the deepest real one is 3). */
export const MAX_JSON_DEPTH = 16;

/** A UTF-16 surrogate that is not half of a pair: such a string is not Unicode text. */
const LONE_SURROGATE = /\p{Surrogate}/u;

/**
 * Names no key may have. The framework deletes them from every body before validation (they are
 * how prototypes get polluted), so a metadata key named `constructor` used to vanish silently:
 * refused instead, with a clear answer.
 */
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** Why a string cannot be stored as text, or undefined when it can. */
function textProblem(value: string): string | undefined {
  // PostgreSQL text cannot hold NUL; jsonb refuses a lone surrogate (a 500 before this check)
  // and text columns silently turned it into U+FFFD.
  if (value.includes('\u0000')) return 'must not contain NUL characters';
  if (LONE_SURROGATE.test(value)) return 'must be well-formed Unicode (no lone surrogates)';
  return undefined;
}

/**
 * What no DTO can catch before it does harm: a string that is not storable text (a NUL character,
 * a lone surrogate) in any string or key of the path, query or body, and nesting deep enough to
 * exhaust the stack of recursive code (validation, the request fingerprint); and a body that is
 * not a JSON object (`null` is not "no body": it is a value no route takes). Walks iteratively,
 * so it cannot overflow itself. Returns the first problem, or undefined.
 */
export function inputProblem(part: string, value: unknown): FieldError | undefined {
  if (part === 'body' && value !== undefined && (value === null || typeof value !== 'object' || Array.isArray(value))) {
    return { field: 'body', message: 'must be a JSON object' };
  }
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: part, depth: 0 }];
  while (stack.length > 0) {
    const { value: current, path, depth } = stack.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) return { field: path, message: problem };
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) return { field: path, message: `must not be nested more than ${MAX_JSON_DEPTH} levels deep` };
    for (const [key, child] of Object.entries(current as Record<string, unknown>)) {
      const problem = textProblem(key);
      if (problem) return { field: path, message: `keys ${problem}` };
      if (RESERVED_KEYS.has(key)) return { field: path, message: `must not have a key named '${key}' (reserved)` };
      stack.push({ value: child, path: `${path}.${key.slice(0, 40)}`, depth: depth + 1 });
    }
  }
  return undefined;
}
