import { batchItems, ChaosClient } from './client.js';
import type { Random } from './random.js';

/** A budget of `count` iterations, as the `until` of a loop that several workers share. */
export function budget(count: number): () => boolean {
  let left = count;
  return () => left-- > 0;
}

/**
 * The mixed workload over a few hot accounts: deposits, charges (captured or authorised), batches
 * of charges, captures, cancels and refunds. Workers pick their next operation from what earlier
 * answers made possible (an authorised charge to capture, a captured one to refund).
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
    } else if (roll < 0.42) {
      const charge = this.chargeRequest(account, 50, 3_000);
      const answer = await this.client.send('POST', '/v1/charges', charge);
      if (answer.final?.status === 201) this.remember(answer.final.body);
    } else if (roll < 0.5) {
      // A batch commits item by item: a fault in the middle leaves some items done, and the retry
      // must run only the others.
      const charges = Array.from({ length: this.random.int(2, 8) }, () => this.chargeRequest(this.random.pick(this.accounts), 20, 800));
      const answer = await this.client.send('POST', '/v1/charges/batch', { charges });
      for (const item of batchItems(answer.final)) if (item.status === 201) this.remember(item.charge);
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

  /** The double-submit storm: `concurrency` clients send keyed charges, each twice at once with the same key. */
  async storm(concurrency: number, until: () => boolean): Promise<void> {
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (until()) {
          const key = this.random.uuid();
          const body = { amount: this.random.int(1, 200), currency: 'usd', source: this.random.pick(this.accounts) };
          await Promise.all([this.client.send('POST', '/v1/charges', body, key), this.client.send('POST', '/v1/charges', body, key)]);
        }
      }),
    );
  }

  private chargeRequest(source: string, min: number, max: number) {
    return { amount: this.random.int(min, max), currency: 'usd', source, capture: this.random.chance(0.6) };
  }

  /** A charge an answer acknowledged, for later captures, cancels and refunds. */
  private remember(charge: { id?: unknown; status?: unknown } | undefined): void {
    if (typeof charge?.id !== 'string') return;
    if (charge.status === 'authorized') this.authorized.push(charge.id);
    else if (charge.status === 'succeeded') this.captured.push(charge.id);
  }

  private take(list: string[]): string {
    return list.splice(this.random.int(0, list.length - 1), 1)[0]!;
  }
}
