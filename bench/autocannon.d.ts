// autocannon ships no types: the part of its programmatic API that bench.ts uses.
declare module 'autocannon' {
  namespace autocannon {
    interface RequestParams {
      method?: string;
      path?: string;
      headers?: Record<string, string>;
      body?: string | Buffer;
    }

    interface Request extends RequestParams {
      /** Called before each request is sent; returns the request to send. */
      setupRequest?: (request: RequestParams, context: Record<string, unknown>) => RequestParams;
    }

    interface Options {
      url: string;
      connections?: number;
      /** Seconds. */
      duration?: number;
      /** Seconds to wait for a response. */
      timeout?: number;
      method?: string;
      headers?: Record<string, string>;
      requests?: Request[];
    }

    /** Latency values are in milliseconds. */
    interface Histogram {
      average: number;
      p50: number;
      p99: number;
    }

    interface Result {
      /** Seconds the run actually took. */
      duration: number;
      /** Connection errors, timeouts included. */
      errors: number;
      timeouts: number;
      non2xx: number;
      '2xx': number;
      latency: Histogram;
    }
  }

  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export = autocannon;
}
