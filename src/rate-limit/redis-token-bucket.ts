import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';

/**
 * A token bucket per caller in Redis, taken in one atomic script (one round trip; EVALSHA): the
 * same rule as TokenBuckets (`rate` tokens a second, a one-second burst), shared by every instance.
 * Time is Redis's own (TIME), so instances whose clocks differ still agree.
 *
 * rate-limiter-flexible runs the script (its `customIncrTtlLuaScript` hook) and reads its answer as
 * {points consumed, ms before the next}: a caller is refused when "consumed" passes the rate. The
 * script answers the tokens in use (≤ rate) when it took one, and rate + 1 with the wait when the
 * bucket is empty; an empty bucket is left as it is.
 *
 * KEYS[1] the bucket; ARGV[1] tokens to take, ARGV[3] the rate (tokens per ARGV[4] seconds).
 */
const TOKEN_BUCKET_SCRIPT = `
local cost = tonumber(ARGV[1])
local capacity = tonumber(ARGV[3])
local per_ms = capacity / (tonumber(ARGV[4]) * 1000)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * per_ms)
local answer
if tokens >= cost then
  tokens = tokens - cost
  answer = { math.ceil(capacity - tokens), 0 }
else
  answer = { capacity + cost, math.ceil((cost - tokens) / per_ms) }
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / per_ms) + 1000)
return answer`;

/** How long a request may wait for Redis before the limit is skipped (fail open). */
const REDIS_COMMAND_TIMEOUT_MS = 250;

export class RedisTokenBuckets {
  private readonly redis: Redis;
  private readonly limiter: RateLimiterRedis;

  constructor(url: string, ratePerSecond: number, keyPrefix: string, onConnectionError: (error: Error) => void) {
    this.redis = new Redis(url, {
      // A request never waits for a Redis that is down: no queueing while disconnected, no retries
      // of a command, a short bound on each. Reconnecting goes on in the background.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
      connectTimeout: 1_000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    // Without a listener ioredis reports every failed reconnection on stderr.
    this.redis.on('error', onConnectionError);
    this.limiter = new RateLimiterRedis({
      storeClient: this.redis,
      keyPrefix,
      points: ratePerSecond,
      duration: 1,
      customIncrTtlLuaScript: TOKEN_BUCKET_SCRIPT,
      // Not connected: refuse at once (the caller fails open) rather than send into the void.
      rejectIfRedisNotReady: true,
    });
  }

  /**
   * Takes a token for `caller`: 0 when allowed, else the whole seconds to wait (at least 1).
   * Throws when Redis cannot answer.
   */
  async take(caller: string): Promise<number> {
    try {
      await this.limiter.consume(caller, 1);
      return 0;
    } catch (outcome) {
      if (outcome instanceof RateLimiterRes) return Math.max(1, Math.ceil(outcome.msBeforeNext / 1000));
      throw outcome;
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
