import { ChaosClient } from './client.js';
import type { Random } from './random.js';

/**
 * The mixed workload over a few hot accounts: deposits, charges (captured or authorised),
 * captures, cancels and refunds. Workers pick their next operation from what earlier answers made
 * possible (an authorised charge to capture, a captured one to refund).
 */
export class Workload {
  private readonly authorized: string[] = [];
  private readonly captured: string[] = [];

  private constructor(
    private readonly client: ChaosClient,
    private readonly random: Random,
    readonly accounts: string[],
  ) {}

  static async setUp(client: ChaosClient, random: Random, hotAccounts = 4): Promise<Workload> {
    const accounts: string[] = [];
    for (let i = 0; i < hotAccounts; i++) {
      const created = await client.send('POST', '/v1/accounts', { currency: 'usd', name: `hot-${i}` });
      const id = created.final?.body?.id;
      if (typeof id !== 'string') throw new Error(`could not create an account: ${created.final?.text}`);
      await client.send('POST', `/v1/accounts/${id}/deposits`, { amount: 50_000 });
      accounts.push(id);
    }
    return new Workload(client, random, accounts);
  }

  /** `workers` concurrent clients, each doing operations one after another until `until()` is false. */
  async run(workers: number, until: () => boolean): Promise<void> {
    await Promise.all(
      Array.from({ length: workers }, async () => {
        while (until()) await this.step();
      }),
    );
  }

  async step(): Promise<void> {
    const roll = this.random.next();
    const account = this.random.pick(this.accounts);
    if (roll < 0.15) {
      await this.client.send('POST', `/v1/accounts/${account}/deposits`, { amount: this.random.int(100, 5_000) });
    } else if (roll < 0.5) {
      const capture = this.random.chance(0.6);
      const answer = await this.client.send('POST', '/v1/charges', {
        amount: this.random.int(50, 3_000),
        currency: 'usd',
        source: account,
        capture,
      });
      const id = answer.final?.status === 201 ? answer.final.body?.id : undefined;
      if (typeof id === 'string') (capture ? this.captured : this.authorized).push(id);
    } else if (roll < 0.65 && this.authorized.length > 0) {
      const id = this.take(this.authorized);
      const body = this.random.chance(0.5) ? {} : { amount: this.random.int(1, 50) };
      const answer = await this.client.send('POST', `/v1/charges/${id}/capture`, body);
      if (answer.final?.status === 200) this.captured.push(id);
    } else if (roll < 0.75 && this.authorized.length > 0) {
      await this.client.send('POST', `/v1/charges/${this.take(this.authorized)}/cancel`, undefined);
    } else if (this.captured.length > 0) {
      const id = this.random.pick(this.captured);
      const body = this.random.chance(0.3) ? {} : { amount: this.random.int(1, 400) };
      await this.client.send('POST', `/v1/charges/${id}/refunds`, body);
    } else {
      await this.client.send('POST', `/v1/accounts/${account}/deposits`, { amount: this.random.int(100, 5_000) });
    }
  }

  /** The double-submit storm: `keys` charges, each sent twice at once with the same key. */
  async storm(keys: number, concurrency: number): Promise<void> {
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < keys) {
          next++;
          const key = this.random.uuid();
          const body = { amount: this.random.int(1, 200), currency: 'usd', source: this.random.pick(this.accounts) };
          await Promise.all([this.client.send('POST', '/v1/charges', body, key), this.client.send('POST', '/v1/charges', body, key)]);
        }
      }),
    );
  }

  private take(list: string[]): string {
    return list.splice(this.random.int(0, list.length - 1), 1)[0]!;
  }
}
