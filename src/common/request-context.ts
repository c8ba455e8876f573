import type { SqlTransaction } from '../database/sql.js';
import type { ItemRunner } from '../idempotency/item-runner.js';
import type { KeyedCall } from '../idempotency/idempotency.types.js';

// What the pipeline attaches to a request on its way to the handler.
declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the API key guard for merchant routes. */
    merchantId?: string;
    /** The id of the API key the request came with (not a secret): what rate limits count by. */
    apiKeyId?: string;
    /** The request's transaction, opened for every write (idempotency or transaction interceptor). */
    transaction?: SqlTransaction;
    /** Runs the items of a route that records per item (@IdempotentPerItem()) under its key. */
    itemRunner?: ItemRunner;
    /** The key of a request that runs in phases of its own (@PhasedWhen()). */
    keyedCall?: KeyedCall;
  }
}

export {};
