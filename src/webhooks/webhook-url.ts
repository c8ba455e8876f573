import { isIP } from 'node:net';

/** Why a URL cannot be a webhook endpoint: `malformed` (400) or `not_allowed` (422), with the reason. */
export type WebhookUrlProblem = { kind: 'malformed' | 'not_allowed'; message: string };

/** Names and addresses that reach this machine only. */
function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/**
 * Whether `raw` may be an endpoint's URL: an absolute https URL without credentials or fragment; an
 * http URL only to a loopback address, and only when the deployment allows it (tests, the example).
 */
export function webhookUrlProblem(raw: string, allowHttpLoopback: boolean): WebhookUrlProblem | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { kind: 'malformed', message: 'url must be an absolute URL' };
  }
  if (url.username !== '' || url.password !== '') return { kind: 'malformed', message: 'url must not hold credentials' };
  if (url.hash !== '') return { kind: 'malformed', message: 'url must not have a fragment' };
  if (url.protocol === 'https:') return undefined;
  if (url.protocol === 'http:') {
    if (!isLoopback(url.hostname)) return { kind: 'not_allowed', message: `A webhook endpoint must be an https:// URL; got '${raw}'.` };
    if (allowHttpLoopback) return undefined;
    return {
      kind: 'not_allowed',
      message: `An http:// webhook endpoint is allowed only to a loopback address where WEBHOOK_ALLOW_HTTP_LOOPBACK is on; got '${raw}'.`,
    };
  }
  return { kind: 'malformed', message: 'url must be an https:// URL' };
}
