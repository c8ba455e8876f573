/**
 * Every event the service writes, one per effect (contract: Events). A charge's events carry the
 * charge as the API answered it; charge.refunded carries the refund; deposit.created the deposit;
 * account.* the account.
 */
export const EVENT_TYPES = [
  'charge.succeeded',
  'charge.authorized',
  'charge.captured',
  'charge.canceled',
  'charge.refunded',
  'charge.failed',
  'deposit.created',
  'account.created',
  'account.updated',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An endpoint subscribed to `*` gets every type, present and future. */
export const ALL_EVENTS = '*';
