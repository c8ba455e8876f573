import fc from 'fast-check';
import { ChaosClient, History } from './client.js';
import { Random } from './random.js';
import type { ScenarioResult, Settings } from './scenarios.js';
import { finish, newMerchant } from './scenarios.js';
import { startService } from './service.js';

interface ModelCharge {
  id: string;
  source: number;
  amount: number;
  status: 'authorized' | 'succeeded' | 'canceled';
  captured: number;
  refunded: number;
}

/** The in-memory model: what the balances and charge states must be after every step. */
interface Model {
  accounts: { id: string; balance: number; held: number }[];
  charges: ModelCharge[];
}

interface Real {
  client: ChaosClient;
}

type Step = fc.AsyncCommand<Model, Real>;

/** Sends one operation and checks its status against the model, then every account's balance. */
async function act(real: Real, method: string, path: string, body: unknown, expected: number): Promise<Record<string, unknown>> {
  const answer = await real.client.send(method, path, body);
  const final = answer.final;
  if (final?.status !== expected)
    throw new Error(`${method} ${path} ${JSON.stringify(body)}: expected ${expected}, got ${final?.status} ${final?.text.slice(0, 200)}`);
  return final.body ?? {};
}

async function compare(model: Model, real: Real): Promise<void> {
  for (const account of model.accounts) {
    const answer = await real.client.send('GET', `/v1/accounts/${account.id}`, undefined);
    const body = answer.final?.body;
    if (body?.balance !== account.balance || body?.held !== account.held) {
      throw new Error(
        `account ${account.id}: model ${account.balance}/${account.held}, service ${String(body?.balance)}/${String(body?.held)}`,
      );
    }
  }
  for (const charge of model.charges) {
    const body = (await real.client.send('GET', `/v1/charges/${charge.id}`, undefined)).final?.body;
    if (body?.status !== charge.status || body?.amount_captured !== charge.captured || body?.amount_refunded !== charge.refunded) {
      throw new Error(`charge ${charge.id}: model ${JSON.stringify(charge)}, service ${JSON.stringify(body)}`);
    }
  }
}

class Deposit implements Step {
  constructor(
    private readonly account: number,
    private readonly amount: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const account = model.accounts[this.account % model.accounts.length]!;
    await act(real, 'POST', `/v1/accounts/${account.id}/deposits`, { amount: this.amount }, 201);
    account.balance += this.amount;
    await compare(model, real);
  }
  toString = () => `deposit(${this.account}, ${this.amount})`;
}

class Charge implements Step {
  constructor(
    private readonly account: number,
    private readonly amount: number,
    private readonly capture: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real): Promise<void> {
    const source = this.account % model.accounts.length;
    const account = model.accounts[source]!;
    const enough = account.balance - account.held >= this.amount;
    const body = await act(
      real,
      'POST',
      '/v1/charges',
      { amount: this.amount, currency: 'usd', source: account.id, capture: this.capture },
      enough ? 201 : 402,
    );
    if (enough) {
      if (this.capture) account.balance -= this.amount;
      else account.held += this.amount;
      model.charges.push({
        id: String(body.id),
        source,
        amount: this.amount,
        status: this.capture ? 'succeeded' : 'authorized',
        captured: this.capture ? this.amount : 0,
        refunded: 0,
      });
    }
    await compare(model, real);
  }
  toString = () => `charge(${this.account}, ${this.amount}, capture=${this.capture})`;
}

class Capture implements Step {
  constructor(
    private readonly charge: number,
    private readonly amount: number | undefined,
  ) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const charge = model.charges[this.charge % model.charges.length]!;
    const amount = this.amount ?? charge.amount;
    const allowed = charge.status === 'authorized' && amount <= charge.amount;
    await act(real, 'POST', `/v1/charges/${charge.id}/capture`, this.amount === undefined ? {} : { amount }, allowed ? 200 : 409);
    if (allowed) {
      const account = model.accounts[charge.source]!;
      account.held -= charge.amount;
      account.balance -= amount;
      Object.assign(charge, { status: 'succeeded', captured: amount });
    }
    await compare(model, real);
  }
  toString = () => `capture(${this.charge}, ${this.amount})`;
}

class Cancel implements Step {
  constructor(private readonly charge: number) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const charge = model.charges[this.charge % model.charges.length]!;
    const allowed = charge.status === 'authorized';
    await act(real, 'POST', `/v1/charges/${charge.id}/cancel`, undefined, allowed ? 200 : 409);
    if (allowed) {
      model.accounts[charge.source]!.held -= charge.amount;
      charge.status = 'canceled';
    }
    await compare(model, real);
  }
  toString = () => `cancel(${this.charge})`;
}

class Refund implements Step {
  constructor(
    private readonly charge: number,
    private readonly amount: number | undefined,
  ) {}
  check = (model: Readonly<Model>) => model.charges.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const charge = model.charges[this.charge % model.charges.length]!;
    const left = charge.captured - charge.refunded;
    const amount = this.amount ?? left;
    const allowed = charge.status === 'succeeded' && amount >= 1 && amount <= left;
    await act(real, 'POST', `/v1/charges/${charge.id}/refunds`, this.amount === undefined ? {} : { amount }, allowed ? 201 : 409);
    if (allowed) {
      model.accounts[charge.source]!.balance += amount;
      charge.refunded += amount;
    }
    await compare(model, real);
  }
  toString = () => `refund(${this.charge}, ${this.amount})`;
}

/** 7. Random operation sequences (fast-check commands), compared with the model after every step. */
export async function modelBasedRun(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const service = await startService(settings.cluster.url);
  const history = new History();
  const random = new Random(settings.seed);
  const merchant = await newMerchant(service.url, 'model', random);
  const client = new ChaosClient(history, merchant.apiKey, () => [service.url], random);
  const amount = fc.integer({ min: 1, max: 3_000 });
  const commands = [
    fc.tuple(fc.nat(), amount).map(([account, value]) => new Deposit(account, value)),
    fc.tuple(fc.nat(), amount, fc.boolean()).map(([account, value, capture]) => new Charge(account, value, capture)),
    fc.tuple(fc.nat(), fc.option(amount, { nil: undefined })).map(([charge, value]) => new Capture(charge, value)),
    fc.nat().map((charge) => new Cancel(charge)),
    fc
      .tuple(fc.nat(), fc.option(fc.integer({ min: 1, max: 1_500 }), { nil: undefined }))
      .map(([charge, value]) => new Refund(charge, value)),
  ];
  await fc
    .assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: settings.quick ? 20 : 40 }), async (steps) => {
        const model: Model = { accounts: [], charges: [] };
        for (let i = 0; i < 2; i++) {
          const id = String((await client.send('POST', '/v1/accounts', { currency: 'usd' })).final?.body?.id);
          await client.send('POST', `/v1/accounts/${id}/deposits`, { amount: 5_000 });
          model.accounts.push({ id, balance: 5_000, held: 0 });
        }
        await fc.asyncModelRun(() => ({ model, real: { client } }), steps);
      }),
      { numRuns: settings.quick ? 15 : 60, seed: settings.seed, verbose: 0 },
    )
    .catch((error: unknown) => history.violations.push(`model: ${String(error).slice(0, 800)}`));
  const scenario = { name: '7. model-based sequences', checks: 'balances and charge states equal a model after every step' };
  return finish(settings, scenario, started, [service], { history, merchant, client }, 0);
}
