import { CommittedResponses } from './committed-responses.js';
import { IdempotencyKeyReusedError, IdempotencyRequestInProgressError } from './idempotency.errors.js';
import type { KeyedCall, RecordedResponse } from './idempotency.repository.js';
import { IdempotencyService, type IdempotencyOutcome } from './idempotency.service.js';
import { InMemoryIdempotencyStore, InMemoryTransaction, RefusedStatementError } from './in-memory-idempotency.store.js';

const call = (key: string, fingerprint = 'fp-a'): KeyedCall => ({ merchantId: 'm', key, fingerprint });
const created = (body: string): RecordedResponse => ({ status: 201, body, headers: { 'content-type': 'application/json' } });
const asIs = (response: RecordedResponse) => response;

/** A handler that counts its calls and sends one statement (its effect), failing where it is told. */
function countingHandler(effect: string, failAt?: 'before' | 'at' | 'after') {
  const handler = {
    calls: 0,
    run: async (tx: InMemoryTransaction): Promise<RecordedResponse> => {
      handler.calls++;
      if (failAt === 'before') throw new Error('before its first statement');
      await tx.statement(effect);
      if (failAt === 'after') throw new Error('after its first statement');
      return created(effect);
    },
  };
  return handler;
}

function setUp(options: { waitMs?: number } = {}) {
  const store = new InMemoryIdempotencyStore(60);
  const outcomes: IdempotencyOutcome[] = [];
  const observe = (outcome: IdempotencyOutcome) => void outcomes.push(outcome);
  const sleeps: (() => Promise<void> | void)[] = [];
  const service = (memory = new CommittedResponses(100, 1_000_000, () => store.now)) =>
    new IdempotencyService(store, memory, { ttlSeconds: 60, inFlightWaitMs: options.waitMs ?? 100, inFlightPollMs: 25 }, async () => {
      store.now += 25;
      await sleeps.shift()?.();
    });
  return { store, outcomes, observe, sleeps, service };
}

describe('IdempotencyService', () => {
  it('runs a new key once, commits its effect with its record, and answers new', async () => {
    const { store, outcomes, observe, service } = setUp();
    const handler = countingHandler('charge 1');
    const answer = await service().execute(call('k'), handler.run, asIs, observe);
    expect(answer).toMatchObject({ kind: 'new', response: created('charge 1') });
    expect(handler.calls).toBe(1);
    expect(store.committed).toEqual(['charge 1']);
    expect(store.locks.size).toBe(0);
    expect(outcomes).toEqual(['new']);
  });

  it('replays from memory without asking the store, and refuses another request there (422)', async () => {
    const { store, outcomes, observe, service } = setUp();
    const idempotency = service();
    await idempotency.execute(call('k'), countingHandler('charge').run, asIs, observe);
    let opened = 0;
    const open = store.open.bind(store);
    store.open = (key) => ((opened += 1), open(key));
    const again = countingHandler('again');
    expect(await idempotency.execute(call('k'), again.run, asIs, observe)).toMatchObject({ kind: 'replayed', from: 'memory' });
    await expect(idempotency.execute(call('k', 'fp-b'), again.run, asIs, observe)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(again.calls).toBe(0);
    expect(opened).toBe(0);
    expect(outcomes).toEqual(['new', 'replayed', 'mismatch']);
  });

  it('replays from the store what this process does not remember; the handler’s statement takes no effect', async () => {
    const { store, outcomes, observe, service } = setUp();
    await service().execute(call('k'), countingHandler('charge').run, asIs, observe);
    const again = countingHandler('second charge');
    const answer = await service().execute(call('k'), again.run, asIs, observe);
    expect(answer).toMatchObject({ kind: 'replayed', from: 'database', response: created('charge') });
    expect(again.calls).toBe(1);
    expect(store.committed).toEqual(['charge']);
    expect(outcomes).toEqual(['new', 'replayed']);
  });

  it('refuses another request with a recorded key from the store (422), its handler’s statement without effect', async () => {
    const { store, outcomes, observe, service } = setUp();
    await service().execute(call('k'), countingHandler('charge').run, asIs, observe);
    await expect(service().execute(call('k', 'fp-b'), countingHandler('other').run, asIs, observe)).rejects.toBeInstanceOf(
      IdempotencyKeyReusedError,
    );
    expect(store.committed).toEqual(['charge']);
    expect(outcomes).toEqual(['new', 'mismatch']);
  });

  describe('a key this process answered, whose answer has left its memory', () => {
    /** A process that keeps no answer in memory, only the trace that it answered (answered-keys.ts). */
    function forgetful() {
      const setup = setUp();
      const idempotency = setup.service(new CommittedResponses(0, 1_000_000, () => setup.store.now));
      const calls = { open: 0, find: 0 };
      const open = setup.store.open.bind(setup.store);
      const find = setup.store.find.bind(setup.store);
      setup.store.open = (key) => ((calls.open += 1), open(key));
      setup.store.find = (key) => ((calls.find += 1), find(key));
      return { ...setup, idempotency, calls };
    }

    it('is replayed from one read of its record; the handler never runs', async () => {
      const { store, outcomes, observe, idempotency, calls } = forgetful();
      await idempotency.execute(call('k'), countingHandler('charge').run, asIs, observe);
      const again = countingHandler('second charge');
      const answer = await idempotency.execute(call('k'), again.run, asIs, observe);
      expect(answer).toMatchObject({ kind: 'replayed', from: 'database', response: created('charge') });
      expect(again.calls).toBe(0);
      expect(calls).toEqual({ open: 1, find: 1 });
      expect(store.committed).toEqual(['charge']);
      expect(outcomes).toEqual(['new', 'replayed']);
    });

    it('refuses another request with it from that read (422); the handler never runs', async () => {
      const { outcomes, observe, idempotency, calls } = forgetful();
      await idempotency.execute(call('k'), countingHandler('charge').run, asIs, observe);
      const other = countingHandler('other');
      await expect(idempotency.execute(call('k', 'fp-b'), other.run, asIs, observe)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      expect(other.calls).toBe(0);
      expect(calls).toEqual({ open: 1, find: 1 });
      expect(outcomes).toEqual(['new', 'mismatch']);
    });

    it('runs once as new when its record has expired: the read finds nothing, the claim decides', async () => {
      const { store, observe, idempotency, calls } = forgetful();
      await idempotency.execute(call('k'), countingHandler('first').run, asIs, observe);
      store.now += 61_000;
      const second = countingHandler('second');
      expect(await idempotency.execute(call('k'), second.run, asIs, observe)).toMatchObject({ kind: 'new' });
      expect(second.calls).toBe(1);
      expect(calls).toEqual({ open: 2, find: 1 });
      expect(store.committed).toEqual(['first', 'second']);
    });
  });

  it('answers a recorded key before the handler’s own failure (a 400 before its first statement)', async () => {
    const { observe, service } = setUp();
    await service().execute(call('k'), countingHandler('charge').run, asIs, observe);
    const failing = countingHandler('x', 'before');
    expect(await service().execute(call('k'), failing.run, asIs, observe)).toMatchObject({ kind: 'replayed' });
    expect(failing.calls).toBe(1);
  });

  describe.each(['before', 'at', 'after'] as const)('a handler that fails %s its first statement', (failAt) => {
    it('runs once, records nothing, lets the key go, and a retry runs it once more', async () => {
      const { store, outcomes, observe, service } = setUp();
      const handler = countingHandler('charge', failAt);
      if (failAt === 'at') store.statementFailure = new Error('the statement failed');
      await expect(service().execute(call('k'), handler.run, asIs, observe)).rejects.toThrow();
      expect(handler.calls).toBe(1);
      expect(store.committed).toEqual([]);
      expect(store.rows.size).toBe(0);
      expect(store.locks.size).toBe(0);
      expect(outcomes).toEqual([]);

      const retry = countingHandler('charge');
      expect(await service().execute(call('k'), retry.run, asIs, observe)).toMatchObject({ kind: 'new' });
      expect([handler.calls, retry.calls]).toEqual([1, 1]);
      expect(store.committed).toEqual(['charge']);
    });
  });

  it('keeps what `recorded` keeps (a field shown once), and answers the full response the first time', async () => {
    const { observe, service } = setUp();
    const idempotency = service();
    const first = await idempotency.execute(call('k'), countingHandler('secret').run, () => created('null'), observe);
    expect(first.response.body).toBe('secret');
    expect((await idempotency.execute(call('k'), countingHandler('x').run, asIs, observe)).response.body).toBe('null');
  });

  it('waits for a twin in flight and replays its record; the waiting handler’s statement takes no effect', async () => {
    const { store, outcomes, observe, sleeps, service } = setUp();
    let finishTwin!: () => void;
    const twinMayFinish = new Promise<void>((resolve) => (finishTwin = resolve));
    const twin = service().execute(
      call('k'),
      async (tx) => {
        await tx.statement('twin charge');
        await twinMayFinish;
        return created('twin');
      },
      asIs,
      observe,
    );
    await Promise.resolve();
    sleeps.push(async () => {
      finishTwin();
      await twin;
    });
    const waiting = countingHandler('waiting charge');
    expect(await service().execute(call('k'), waiting.run, asIs, observe)).toMatchObject({ kind: 'replayed', response: created('twin') });
    expect(waiting.calls).toBe(1);
    expect(store.committed).toEqual(['twin charge']);
    expect(outcomes).toEqual(['new', 'replayed']);
  });

  it('answers 409 when the twin is still in flight after the wait', async () => {
    const { store, outcomes, observe, service } = setUp({ waitMs: 100 });
    store.locks.add('m\nk');
    await expect(service().execute(call('k'), countingHandler('x').run, asIs, observe)).rejects.toBeInstanceOf(
      IdempotencyRequestInProgressError,
    );
    expect(outcomes).toEqual(['in_progress']);
    expect(store.committed).toEqual([]);
  });

  it('answers 409 at once when the twin ended without a record: its handler ran already and never runs twice', async () => {
    const { store, outcomes, observe, sleeps, service } = setUp({ waitMs: 10_000 });
    store.locks.add('m\nk');
    sleeps.push(() => void store.locks.delete('m\nk'));
    const handler = countingHandler('x');
    await expect(service().execute(call('k'), handler.run, asIs, observe)).rejects.toBeInstanceOf(IdempotencyRequestInProgressError);
    expect(handler.calls).toBe(1);
    expect(store.now).toBeLessThan(1_000_000 + 100);
    expect(outcomes).toEqual(['in_progress']);
  });

  it('counts an expired record as absent: the key is new again, whatever the request', async () => {
    const { store, observe, service } = setUp();
    await service().execute(call('k'), countingHandler('first').run, asIs, observe);
    store.now += 61_000;
    expect(await service().execute(call('k', 'fp-b'), countingHandler('second').run, asIs, observe)).toMatchObject({ kind: 'new' });
    expect(store.committed).toEqual(['first', 'second']);
  });

  it('forgets a remembered answer when the database’s time for it is up, whatever the wall clock says', async () => {
    const { store, observe, service } = setUp();
    const idempotency = service();
    await idempotency.execute(call('k'), countingHandler('first').run, asIs, observe);
    store.now += 61_000; // the store's clock doubles as this process's monotonic clock here
    expect(await idempotency.execute(call('k', 'fp-b'), countingHandler('second').run, asIs, observe)).toMatchObject({ kind: 'new' });
  });

  it('passes a database failure of the claim on, with the handler run once and nothing committed', async () => {
    const { store, observe, service } = setUp();
    const unavailable = new Error('database unavailable');
    store.claimFailure = unavailable;
    const handler = countingHandler('charge');
    await expect(service().execute(call('k'), handler.run, asIs, observe)).rejects.toBe(unavailable);
    expect(handler.calls).toBe(1);
    expect(store.committed).toEqual([]);
  });

  it('a handler’s statement after a refused claim fails, without effect', async () => {
    const { store, observe, service } = setUp();
    await service().execute(call('k'), countingHandler('charge').run, asIs, observe);
    let seen: unknown;
    await service().execute(
      call('k'),
      async (tx) => {
        await tx.statement('second').catch((error: unknown) => (seen = error));
        return created('never recorded');
      },
      asIs,
      observe,
    );
    expect(seen).toBeInstanceOf(RefusedStatementError);
    expect(store.committed).toEqual(['charge']);
  });

  describe('item by item', () => {
    it('runs a new key, records its response on the claim, and replays it after', async () => {
      const { store, observe, service } = setUp();
      let runs = 0;
      const run = () => {
        runs++;
        store.claimForItems(call('b'));
        return Promise.resolve(created('batch'));
      };
      expect(await service().executePerItem(call('b'), run, observe)).toMatchObject({ kind: 'new' });
      expect(await service().executePerItem(call('b'), run, observe)).toMatchObject({ kind: 'replayed', from: 'database' });
      expect(runs).toBe(1);
    });

    it('resumes this same request’s claim, refuses another request’s (422)', async () => {
      const { store, observe, service } = setUp();
      store.claimForItems(call('b'));
      let runs = 0;
      const run = () => Promise.resolve((runs++, created('resumed')));
      expect(await service().executePerItem(call('b'), run, observe)).toMatchObject({ kind: 'new', response: created('resumed') });
      await expect(service().executePerItem(call('b', 'fp-b'), run, observe)).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      expect(runs).toBe(1);
    });

    it('waits while a request with the key is in flight, then 409', async () => {
      const { store, outcomes, observe, service } = setUp({ waitMs: 50 });
      store.locks.add('m\nb');
      let runs = 0;
      await expect(service().executePerItem(call('b'), () => Promise.resolve((runs++, created('x'))), observe)).rejects.toBeInstanceOf(
        IdempotencyRequestInProgressError,
      );
      expect(runs).toBe(0);
      expect(outcomes).toEqual(['in_progress']);
    });

    it('replays a twin run that recorded first', async () => {
      const { store, observe, service } = setUp();
      const run = () => {
        store.claimForItems(call('b'));
        void store.complete(call('b'), created('twin'));
        return Promise.resolve(created('mine'));
      };
      expect(await service().executePerItem(call('b'), run, observe)).toMatchObject({ kind: 'replayed', response: created('twin') });
    });
  });

  describe('a database that commits through a synchronous standby', () => {
    it('replays a record from the database only once the standby has it; from memory, without asking', async () => {
      const { store, observe, service } = setUp();
      store.commitsThroughStandby = true;
      const remembering = service();
      await remembering.execute(call('k'), countingHandler('charge').run, asIs, observe);
      expect(await remembering.execute(call('k'), countingHandler('again').run, asIs, observe)).toMatchObject({ from: 'memory' });
      expect(store.standbyConfirmations).toBe(0); // the new key's own COMMIT waited for the standby
      const another = service(new CommittedResponses(0, 1_000_000, () => store.now)); // another instance
      expect(await another.execute(call('k'), countingHandler('again').run, asIs, observe)).toMatchObject({ from: 'database' });
      expect(store.standbyConfirmations).toBe(1);
      expect(store.committed).toEqual(['charge']);
    });

    it('does not acknowledge a record the standby cannot confirm: the failure is the answer, and nothing is remembered', async () => {
      const { store, outcomes, observe, service } = setUp();
      store.commitsThroughStandby = true;
      await service(new CommittedResponses(0, 1_000_000, () => store.now)).execute(call('k'), countingHandler('charge').run, asIs, observe);
      const memory = new CommittedResponses(100, 1_000_000, () => store.now);
      const unavailable = new Error('the standby is not confirming');
      store.standbyFailure = unavailable;
      await expect(service(memory).execute(call('k'), countingHandler('again').run, asIs, observe)).rejects.toBe(unavailable);
      expect(memory.get('m', 'k')).toBeUndefined();
      expect(outcomes).toEqual(['new']);
      expect(store.committed).toEqual(['charge']);
    });

    it('asks nothing of a single server (or a primary whose standby is lost: wait_primary)', async () => {
      const { store, observe, service } = setUp();
      await service().execute(call('k'), countingHandler('charge').run, asIs, observe);
      const forgetful = service(new CommittedResponses(0, 1_000_000, () => store.now));
      expect(await forgetful.execute(call('k'), countingHandler('again').run, asIs, observe)).toMatchObject({ kind: 'replayed' });
      expect(store.standbyConfirmations).toBe(0);
    });
  });
});
