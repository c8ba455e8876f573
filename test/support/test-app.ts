import 'reflect-metadata';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createApp } from '../../src/app.setup.js';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { responseValidator } from './openapi-responses.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface RequestOptions {
  body?: unknown;
  /** Raw body text, sent as is (for malformed JSON and the like). */
  raw?: string;
  /** Idempotency-Key; `null` sends none. Defaults to a fresh UUID for POST. */
  key?: string | null;
  headers?: Record<string, string>;
  token?: string | null;
}

/** The real application, listening on a free port, driven over real HTTP. */
export class TestApp {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly baseUrl: string,
    readonly config: AppConfig,
  ) {}

  static async start(overrides: Partial<AppConfig> = {}, databaseUrl = process.env.TEST_DATABASE_URL): Promise<TestApp> {
    if (!databaseUrl) throw new Error('TEST_DATABASE_URL is not set: run the tests with npm test');
    const config = { ...loadConfig({ LOG_LEVEL: 'error', ADMIN_TOKEN, RATE_LIMIT_PER_SECOND: '0' }), ...overrides };
    const app = await createApp(config, databaseUrl);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    if (!address || typeof address === 'string') throw new Error('no address');
    return new TestApp(app, `http://127.0.0.1:${address.port}`, config);
  }

  get dataSource(): DataSource {
    return this.app.get(DataSource);
  }

  close(): Promise<void> {
    return this.app.close();
  }

  async request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const key = options.key === undefined ? (method === 'POST' ? randomUUID() : null) : options.key;
    if (key !== null) headers['idempotency-key'] = key;
    let body: string | undefined = options.raw;
    if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(this.baseUrl + path, { method, headers, body });
    const text = await response.text();
    // Every answer a suite receives is one the OpenAPI document declares, or the suite fails here.
    const undeclared = responseValidator().problemsOf({ method, path, status: response.status, headers: response.headers, text });
    if (undeclared.length > 0) {
      throw new Error(`The response is not what openapi.json declares:\n- ${undeclared.join('\n- ')}\nbody: ${text.slice(0, 1000)}`);
    }
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON (e.g. /metrics)
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text };
  }

  /** A new merchant and a client holding its API key. */
  async merchant(name = 'merchant'): Promise<MerchantClient> {
    const reply = await this.request('POST', '/v1/merchants', { body: { name }, token: ADMIN_TOKEN });
    if (reply.status !== 201) throw new Error(`merchant: ${reply.status} ${reply.text}`);
    return new MerchantClient(this, reply.body.id, reply.body.api_key);
  }
}

/** Requests made with one merchant's API key, plus shortcuts for the common set-up steps. */
export class MerchantClient {
  constructor(
    readonly app: TestApp,
    readonly id: string,
    readonly apiKey: string,
  ) {}

  request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<Reply<T>> {
    return this.app.request<T>(method, path, { token: this.apiKey, ...options });
  }

  post<T = any>(path: string, body?: unknown, key?: string | null, headers?: Record<string, string>): Promise<Reply<T>> {
    return this.request<T>('POST', path, { body, key, headers });
  }

  get<T = any>(path: string): Promise<Reply<T>> {
    return this.request<T>('GET', path);
  }

  /** An account holding `funds` (deposited), in `currency`. */
  async account(funds = 0, currency = 'usd'): Promise<string> {
    const created = await this.post('/v1/accounts', { currency });
    if (created.status !== 201) throw new Error(`account: ${created.status} ${created.text}`);
    if (funds > 0) {
      const deposit = await this.post(`/v1/accounts/${created.body.id}/deposits`, { amount: funds });
      if (deposit.status !== 201) throw new Error(`deposit: ${deposit.status} ${deposit.text}`);
    }
    return created.body.id as string;
  }

  async balanceOf(accountId: string): Promise<{ balance: number; held: number }> {
    const reply = await this.get(`/v1/accounts/${accountId}`);
    return { balance: reply.body.balance, held: reply.body.held };
  }
}
