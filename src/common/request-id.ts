import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** What a caller's X-Request-Id may be to be kept: 1-128 of A-Z a-z 0-9 . _ : - (contract: Conventions). */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** An API key's prefix: a request id that holds one is a key pasted into the wrong header. */
const API_KEY_PREFIX = /sk_/i;

/** Part of a secret this long or longer is a secret too (the part after an API key's dot, say). */
const SECRET_FRAGMENT_CHARS = 16;

/**
 * The request's id: the caller's X-Request-Id when it matches the pattern and is no secret, else a
 * new UUID. The id is echoed in every answer and written on every log line of the request, so a
 * caller who sends its API key (or the admin token, or its own bearer token) there must not find it
 * echoed or logged: such an id is replaced, never kept, whatever it looks like.
 */
export function requestIdOf(request: IncomingMessage, secrets: readonly string[]): string {
  const given = request.headers['x-request-id'];
  if (typeof given !== 'string' || !REQUEST_ID_PATTERN.test(given) || API_KEY_PREFIX.test(given)) return randomUUID();
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
  for (const secret of [...secrets, bearer]) {
    if (secret === undefined || secret === '') continue;
    if (given.includes(secret) || (given.length >= SECRET_FRAGMENT_CHARS && secret.includes(given))) return randomUUID();
  }
  return given;
}
