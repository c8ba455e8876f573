// The idempotency module's types that other modules use (a key, a keyed request, a recorded
// response), without reaching into its repository.
export type { KeyedCall, KeyRef, RecordedResponse, RecordTimes } from './idempotency.repository.js';
