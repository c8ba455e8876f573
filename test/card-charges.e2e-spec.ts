import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { CardChargesRepository, CENSUS_SQL } from '../src/card-charges/card-charges.repository.js';
import { CompleterService } from '../src/card-charges/completer.service.js';
import { newId } from '../src/common/ids.js';
import { IdempotencyRepository } from '../src/idempotency/idempotency.repository.js';
import { requestFingerprint } from '../src/idempotency/request-fingerprint.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { acquirerCaptures, cardInvariantViolations } from '../testing/card-invariants.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// Card charges through the real simulated acquirer (acquirer/, its own process): the key's recovery
// points, resumed by a retry or the completer, with the card invariants (testing/card-invariants.ts)
// checked against the acquirer's /_captures after every test.

const CARD = { amount: 1_250, currency: 'usd' };

describe('card charges', () => {
  let acquirer: AcquirerProcess;
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    acquirer = await AcquirerProcess.start();
    // A short wait, so that an answer lost by the acquirer shows as 202 quickly; a long lease.
    app = await TestApp.start({ acquirerUrl: acquirer.url, chargeWaitMs: 500, acquirerTimeoutMs: 3_000, idempotencyLeaseSeconds: 60 });
    merchant = await app.merchant('cards');
  });

  afterEach(async () => {
    const violations = await cardInvariantViolations(
      (sql, parameters) => app.dataSource.query(sql, parameters),
      await acquirerCaptures(acquirer.url),
      [merchant.id],
    );
    expect(violations).toEqual({ doubleCaptures: [], capturesOffTheLedger: [], effectsWithoutCapture: [], unfinishedKeys: [] });
  });

  afterAll(async () => {
    // Drained: the completer finishes what the tests left, and no key is left unfinished.
    await app.app.get(CompleterService).runOnce(0);
    const violations = await cardInvariantViolations(
      (sql, parameters) => app.dataSource.query(sql, parameters),
      await acquirerCaptures(acquirer.url),
      [merchant.id],
      { drained: true },
    );
    await app.close();
    await acquirer.close();
    expect(violations.unfinishedKeys).toEqual([]);
  });

  const keyRow = async (key: string) =>
    (
      await app.dataSource.query(
        `SELECT recovery_point, attempts, lease_token, charge_id, last_outcome FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`,
        [merchant.id, key],
      )
    )[0];
  const capturesFor = async (chargeId: string) =>
    (await acquirerCaptures(acquirer.url)).filter((capture) => capture.reference === chargeId);

  /** A key and its pending charge as tx1 (and tx2) would have left them, its lease expired. */
  async function handMade(body: Record<string, unknown>, recoveryPoint: 'started' | 'acquirer_called', attempts: number, ageSeconds = 0) {
    const key = randomUUID();
    const chargeId = newId('ch');
    await app.dataSource.query(
      `INSERT INTO charges (merchant_id, id, payment_method, amount, currency, status, amount_captured, created_at)
       VALUES ($1, $2, $3, $4, $5, 'pending', 0, now() - make_interval(secs => $6))`,
      [merchant.id, chargeId, body.payment_method, body.amount, body.currency, ageSeconds],
    );
    await app.dataSource.query(
      `INSERT INTO idempotency_keys (merchant_id, key, fingerprint, status, body, headers, created_at, expires_at,
                                     recovery_point, lease_until, lease_token, charge_id, attempts, last_attempt_at)
       VALUES ($1, $2, $3, NULL, NULL, '{}', now() - make_interval(secs => $7), now() + interval '1 day',
               $4, now() - interval '1 second', 'a-worker-that-died', $5, $6,
               CASE WHEN $6 > 0 THEN now() - make_interval(secs => $7) END)`,
      [merchant.id, key, requestFingerprint('POST', '/v1/charges', body), recoveryPoint, chargeId, attempts, ageSeconds],
    );
    return { key, chargeId };
  }

  /** The acquirer captures a payment for the charge as our call would have (its answer then lost). */
  async function capturedAtTheAcquirer(chargeId: string, body: Record<string, unknown>) {
    const response = await fetch(`${acquirer.url}/v1/payments`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': chargeId },
      body: JSON.stringify({ ...CARD, ...body, capture: true, reference: chargeId }),
    });
    expect(response.status).toBe(201);
  }

  it('captures through the acquirer: 201 succeeded, the ledger credits the merchant, a repeat replays', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_ok', description: 'Card' };
    const first = await merchant.post('/v1/charges', body, key);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      status: 'succeeded',
      source: null,
      payment_method: 'pm_test_ok',
      amount_captured: 1_250,
      captured: true,
    });
    expect(first.headers.get('location')).toBe(`/v1/charges/${first.body.id}`);
    expect(first.headers.get('idempotency-expires')).not.toBeNull();
    const again = await merchant.post('/v1/charges', body, key);
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect((await merchant.get(`/v1/charges/${first.body.id}`)).body).toEqual(first.body);
    expect(await capturesFor(first.body.id)).toHaveLength(1);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', attempts: 1, lease_token: null });
    const balance = await merchant.get('/v1/balance');
    expect(balance.body.available).toEqual([{ currency: 'usd', amount: 1_250 }]);
  });

  it('records a decline: 402 card_declined with its decline_code, replayed; the charge failed, nothing captured', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_decline_insufficient_funds' };
    const first = await merchant.post('/v1/charges', body, key);
    expect(first.status).toBe(402);
    expect(first.body).toMatchObject({ code: 'card_declined', decline_code: 'insufficient_funds' });
    const again = await merchant.post('/v1/charges', body, key);
    expect(again.status).toBe(402);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    const { charge_id: chargeId } = await keyRow(key);
    expect((await merchant.get(`/v1/charges/${chargeId}`)).body).toMatchObject({ status: 'failed', decline_code: 'insufficient_funds' });
    expect(await capturesFor(chargeId)).toEqual([]);
  });

  it.each([
    [{ ...CARD, payment_method: 'pm_test_ok', source: 'acct_x' }, 'source'],
    [{ ...CARD, payment_method: 'card_4242' }, 'payment_method'],
    [{ ...CARD, payment_method: 'pm_test_ok', capture: false }, 'capture'],
    [{ ...CARD, payment_method: 42 }, 'payment_method'],
  ])('refuses %j with 400 on %s, leaving no trace', async (body, field) => {
    const key = randomUUID();
    const reply = await merchant.post('/v1/charges', body, key);
    expect(reply.status).toBe(400);
    expect(reply.body.errors.map((error: { field: string }) => error.field)).toContain(field);
    expect(await keyRow(key)).toBeUndefined();
  });

  it('refuses a card charge in a batch with 400', async () => {
    const reply = await merchant.post('/v1/charges/batch', { charges: [{ ...CARD, payment_method: 'pm_test_ok' }] });
    expect(reply.status).toBe(400);
    expect(reply.body.errors[0].field).toBe('charges.0.payment_method');
  });

  it('a lost answer after the capture: 202 pending, then the retry gets the one capture (201), exactly one charge', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_lost_answer_once' };
    const first = await merchant.post('/v1/charges', body, key);
    expect(first.status).toBe(202);
    expect(first.body.status).toBe('pending');
    expect(first.headers.get('retry-after')).toBe('1');
    expect(first.headers.get('location')).toBe(`/v1/charges/${first.body.id}`);
    expect((await merchant.get(`/v1/charges/${first.body.id}`)).body.status).toBe('pending');
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1, lease_token: null, last_outcome: 'network' });
    expect(await capturesFor(first.body.id)).toHaveLength(1);

    const retry = await merchant.post('/v1/charges', body, key);
    expect(retry.status).toBe(201);
    expect(retry.body).toMatchObject({ id: first.body.id, status: 'succeeded' });
    expect(await capturesFor(first.body.id)).toHaveLength(1);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', attempts: 2 });
  });

  it('a lost answer on every attempt is resolved by the lookup after ACQUIRER_LOOKUP_AFTER_ATTEMPTS', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_lost_answer' };
    for (let attempt = 1; attempt <= 3; attempt++) expect((await merchant.post('/v1/charges', body, key)).status).toBe(202);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 3 });
    const resolved = await merchant.post('/v1/charges', body, key);
    expect(resolved.status).toBe(201);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', attempts: 3, last_outcome: 'captured' });
    expect(await capturesFor(resolved.body.id)).toHaveLength(1);
  });

  it('a cached 500 is resolved by the lookup: captured → 201; nothing made → failed, 402 processing_error', async () => {
    const captured = await merchant.post('/v1/charges', { ...CARD, payment_method: 'pm_test_500_captured' });
    expect(captured.status).toBe(201);
    expect(await capturesFor(captured.body.id)).toHaveLength(1);

    const key = randomUUID();
    const nothing = await merchant.post('/v1/charges', { ...CARD, payment_method: 'pm_test_500' }, key);
    expect(nothing.status).toBe(402);
    expect(nothing.body).toMatchObject({ code: 'card_declined', decline_code: 'processing_error' });
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', last_outcome: 'error500_absent' });
  });

  it('resumes a key left at started (lease expired): tx2, the call, 201', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key, chargeId } = await handMade(body, 'started', 0);
    const reply = await merchant.post('/v1/charges', body, key);
    expect(reply.status).toBe(201);
    expect(reply.body).toMatchObject({ id: chargeId, status: 'succeeded' });
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', attempts: 1 });
  });

  it('resumes a key left at acquirer_called whose request never arrived: the call again, 201', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key, chargeId } = await handMade(body, 'acquirer_called', 1);
    const reply = await merchant.post('/v1/charges', body, key);
    expect(reply.status).toBe(201);
    expect(reply.body.id).toBe(chargeId);
    expect(await capturesFor(chargeId)).toHaveLength(1);
  });

  it('resumes a key left at acquirer_called whose capture was made: the repeat gets it, one capture', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key, chargeId } = await handMade(body, 'acquirer_called', 1);
    await capturedAtTheAcquirer(chargeId, { payment_method: 'pm_test_ok' });
    const reply = await merchant.post('/v1/charges', body, key);
    expect(reply.status).toBe(201);
    expect(await capturesFor(chargeId)).toHaveLength(1);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished', attempts: 2 });
  });

  it('answers 409 while another worker holds a live lease, and replays a key from finished', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key } = await handMade(body, 'acquirer_called', 1);
    await app.dataSource.query(`UPDATE idempotency_keys SET lease_until = now() + interval '1 hour' WHERE merchant_id = $1 AND key = $2`, [
      merchant.id,
      key,
    ]);
    const busy = await merchant.post('/v1/charges', body, key);
    expect(busy.status).toBe(409);
    expect(busy.body.code).toBe('idempotency_request_in_progress');
    expect(busy.headers.get('retry-after')).toBe('1');
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1, lease_token: 'a-worker-that-died' });
    // Another body with the key: 422, whatever the key's state.
    expect((await merchant.post('/v1/charges', { ...body, amount: 1 }, key)).status).toBe(422);
    expect((await merchant.post('/v1/charges', { amount: 1, currency: 'usd', source: 'acct_x' }, key)).status).toBe(422);
    await app.dataSource.query(
      `UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE merchant_id = $1 AND key = $2`,
      [merchant.id, key],
    );
    expect((await merchant.post('/v1/charges', body, key)).status).toBe(201);
  });

  it('a worker whose lease lapsed mid-call cannot commit tx3: its result is dropped, the next holder finishes once', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_slow_1500' };
    const metrics = async () => (await merchant.get('/metrics')).text;
    const lostBefore = /idempotency_lease_lost_total (\d+)/.exec(await metrics())?.[1] ?? '0';
    const first = await merchant.post('/v1/charges', body, key);
    expect(first.status).toBe(202);
    // The call is out; the lease lapses and another worker takes the key (by hand, here).
    await app.dataSource.query(
      `UPDATE idempotency_keys SET lease_token = 'the-next-holder', lease_until = now() + interval '1 hour' WHERE merchant_id = $1 AND key = $2`,
      [merchant.id, key],
    );
    // The first worker's answer comes, and its tx3 finds the key no longer its own.
    while ((/idempotency_lease_lost_total (\d+)/.exec(await metrics())?.[1] ?? '0') === lostBefore) await sleep(50);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'acquirer_called', lease_token: 'the-next-holder' });
    expect((await merchant.get(`/v1/charges/${first.body.id}`)).body.status).toBe('pending');
    const entries = await app.dataSource.query(`SELECT 1 FROM ledger_entries WHERE merchant_id = $1 AND reference = $2`, [
      merchant.id,
      first.body.id,
    ]);
    expect(entries).toEqual([]);
    expect(await capturesFor(first.body.id)).toHaveLength(1);
    // The next holder's lease lapses too; a retry resumes, repeats the call and gets the one capture.
    await app.dataSource.query(
      `UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE merchant_id = $1 AND key = $2`,
      [merchant.id, key],
    );
    // The slow card is slow on the repeat too: 202, then its holder finishes the key and a repeat replays.
    expect((await merchant.post('/v1/charges', body, key)).status).toBe(202);
    while ((await keyRow(key)).recovery_point !== 'finished') await sleep(50);
    const replay = await merchant.post('/v1/charges', body, key);
    expect(replay.status).toBe(201);
    expect(replay.body).toMatchObject({ id: first.body.id, status: 'succeeded' });
    expect(await capturesFor(first.body.id)).toHaveLength(1);
  });

  it('the completer rolls back a key at started, resolves one at acquirer_called, and leaves keys inside the grace period', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const old = await handMade(body, 'started', 0, 3_600);
    const called = await handMade(body, 'acquirer_called', 1, 3_600);
    await capturedAtTheAcquirer(called.chargeId, { payment_method: 'pm_test_ok' });
    const young = await handMade(body, 'acquirer_called', 1, 0);
    const recent = await handMade(body, 'acquirer_called', 1, 3_600);
    await app.dataSource.query(`UPDATE idempotency_keys SET last_attempt_at = now() WHERE merchant_id = $1 AND key = $2`, [
      merchant.id,
      recent.key,
    ]);

    const run = await app.app.get(CompleterService).runOnce(60);
    expect(run.rolledBack).toBeGreaterThanOrEqual(1);
    expect(run.finished).toBeGreaterThanOrEqual(1);
    expect(await keyRow(old.key)).toBeUndefined();
    expect(await app.dataSource.query(`SELECT 1 FROM charges WHERE merchant_id = $1 AND id = $2`, [merchant.id, old.chargeId])).toEqual([]);
    expect(await keyRow(called.key)).toMatchObject({ recovery_point: 'finished' });
    expect((await merchant.get(`/v1/charges/${called.chargeId}`)).body.status).toBe('succeeded');
    expect(await keyRow(young.key)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1 });
    expect(await keyRow(recent.key)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1 });
    // A retry of the rolled-back key starts clean: a new charge, captured once.
    const retried = await merchant.post('/v1/charges', body, old.key);
    expect(retried.status).toBe(201);
    expect(retried.body.id).not.toBe(old.chargeId);
    // The replay of the key the completer finished is its recorded answer.
    const replay = await merchant.post('/v1/charges', body, called.key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    // Finish the rest for the invariants.
    for (const key of [young.key, recent.key]) expect((await merchant.post('/v1/charges', body, key)).status).toBe(201);
  });

  it('the completer resolves a lost answer nobody retries: the charge succeeds once, a later retry replays it', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_lost_answer' };
    const first = await merchant.post('/v1/charges', body, key);
    expect(first.status).toBe(202);
    await app.dataSource.query(
      `UPDATE idempotency_keys SET created_at = now() - interval '1 hour', last_attempt_at = now() - interval '1 hour', attempts = 3
        WHERE merchant_id = $1 AND key = $2`,
      [merchant.id, key],
    );
    await app.app.get(CompleterService).runOnce(60);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'finished' });
    expect((await merchant.get(`/v1/charges/${first.body.id}`)).body.status).toBe('succeeded');
    const retry = await merchant.post('/v1/charges', body, key);
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await capturesFor(first.body.id)).toHaveLength(1);
  });

  it('past the resend horizon a key is only looked up: a capture found finishes it, none found fails it without a call', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    // A quarter of ACQUIRER_KEY_TTL_SECONDS (a day by default) is six hours: these keys are older.
    const found = await handMade(body, 'acquirer_called', 1, 30_000);
    await capturedAtTheAcquirer(found.chargeId, { payment_method: 'pm_test_ok' });
    expect((await merchant.post('/v1/charges', body, found.key)).status).toBe(201);
    expect(await keyRow(found.key)).toMatchObject({ recovery_point: 'finished', attempts: 1, last_outcome: 'captured' });

    const none = await handMade(body, 'acquirer_called', 1, 30_000);
    const reply = await merchant.post('/v1/charges', body, none.key);
    expect(reply.status).toBe(402);
    expect(reply.body).toMatchObject({ code: 'card_declined', decline_code: 'processing_error' });
    // A card that would have succeeded: not sent again, so nothing was captured.
    expect(await capturesFor(none.chargeId)).toEqual([]);
    expect(await keyRow(none.key)).toMatchObject({ recovery_point: 'finished', attempts: 1, last_outcome: 'horizon_absent' });
  });

  it('twenty concurrent requests with one new key: one drives it, the others are refused (409) or replayed; one capture', async () => {
    const key = randomUUID();
    const body = { ...CARD, payment_method: 'pm_test_slow_100' };
    const replies = await Promise.all(Array.from({ length: 20 }, () => merchant.post('/v1/charges', body, key)));
    const driven = replies.filter((reply) => (reply.status === 201 || reply.status === 202) && !reply.headers.get('idempotent-replayed'));
    expect(driven).toHaveLength(1);
    for (const reply of replies) {
      if (reply === driven[0]) continue;
      if (reply.status === 201) expect(reply.headers.get('idempotent-replayed')).toBe('true');
      else expect(reply.status).toBe(409);
    }
    while ((await keyRow(key)).recovery_point !== 'finished') await sleep(50);
    expect(await capturesFor(driven[0]!.body.id)).toHaveLength(1);
    expect(
      (
        await app.dataSource.query(`SELECT count(*)::int AS n FROM charges WHERE merchant_id = $1 AND id = $2`, [
          merchant.id,
          driven[0]!.body.id,
        ])
      )[0].n,
    ).toBe(1);
  });

  it('takes a lease only when it is free or expired (the conditional UPDATE)', async () => {
    const keys = app.app.get(CardChargesRepository);
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key } = await handMade(body, 'acquirer_called', 1);
    const ref = { merchantId: merchant.id, key };
    expect(await keys.takeLease(ref, 'first', 60)).toMatchObject({ token: 'first', recoveryPoint: 'acquirer_called', attempts: 1 });
    expect(await keys.takeLease(ref, 'second', 60)).toBeUndefined();
    expect(await keyRow(key)).toMatchObject({ lease_token: 'first' });
    await app.dataSource.query(
      `UPDATE idempotency_keys SET lease_until = now() - interval '1 second' WHERE merchant_id = $1 AND key = $2`,
      [merchant.id, key],
    );
    expect(await keys.takeLease(ref, 'third', 60)).toMatchObject({ token: 'third' });
    await app.dataSource.query(`UPDATE idempotency_keys SET lease_until = NULL, lease_token = NULL WHERE merchant_id = $1 AND key = $2`, [
      merchant.id,
      key,
    ]);
    expect((await merchant.post('/v1/charges', body, key)).status).toBe(201);
  });

  it('ten concurrent retries of a key whose lease expired: one takes it over, the others get 409 or the replay', async () => {
    const body = { ...CARD, payment_method: 'pm_test_slow_100' };
    const { key, chargeId } = await handMade(body, 'acquirer_called', 1);
    const replies = await Promise.all(Array.from({ length: 10 }, () => merchant.post('/v1/charges', body, key)));
    const driven = replies.filter((reply) => reply.status !== 409 && !reply.headers.get('idempotent-replayed'));
    expect(driven.map((reply) => reply.status)).toHaveLength(1);
    while ((await keyRow(key)).recovery_point !== 'finished') await sleep(50);
    expect(await keyRow(key)).toMatchObject({ attempts: 2 });
    expect(await capturesFor(chargeId)).toHaveLength(1);
  });

  it('an unfinished key outlives IDEMPOTENCY_TTL_SECONDS: a wallet request with it is refused, not run over it', async () => {
    const shortLived = await TestApp.start({ acquirerUrl: acquirer.url, chargeWaitMs: 500, idempotencyTtlSeconds: 1 });
    try {
      const other = await shortLived.merchant('cards-short-ttl');
      const key = randomUUID();
      const body = { ...CARD, payment_method: 'pm_test_lost_answer_once' };
      const first = await other.post('/v1/charges', body, key);
      expect(first.status).toBe(202);
      await sleep(1_100); // past the TTL a finished key would have had
      const wallet = await other.post('/v1/charges', { amount: 1, currency: 'usd', source: 'acct_none' }, key);
      expect(wallet.status).toBe(422);
      expect(wallet.body.code).toBe('idempotency_key_reused');
      const finished = await other.post('/v1/charges', body, key);
      expect(finished.status).toBe(201);
      expect(finished.body.id).toBe(first.body.id);
      expect(await capturesFor(first.body.id)).toHaveLength(1);
    } finally {
      await shortLived.close();
    }
  });

  it('the purge never removes an unfinished key, even past its expiry', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const { key } = await handMade(body, 'acquirer_called', 1);
    await app.dataSource.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE merchant_id = $1 AND key = $2`, [
      merchant.id,
      key,
    ]);
    await app.app.get(IdempotencyRepository).purgeExpired(1_000);
    expect(await keyRow(key)).toMatchObject({ recovery_point: 'acquirer_called' });
    expect((await merchant.post('/v1/charges', body, key)).status).toBe(201);
  });

  it('charges_total counts card charges by outcome, once each: a success and a decline, not their replays nor a 202', async () => {
    const counted = async (outcome: string) => {
      const text = (await merchant.get('/metrics')).text;
      return Number(new RegExp(`^charges_total\\{kind="card",outcome="${outcome}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    };
    const before = { succeeded: await counted('succeeded'), declined: await counted('card_declined') };
    const ok = { ...CARD, payment_method: 'pm_test_ok' };
    const declined = { ...CARD, payment_method: 'pm_test_decline_do_not_honor' };
    const lost = { ...CARD, payment_method: 'pm_test_lost_answer_once' };
    const [okKey, declinedKey, lostKey] = [randomUUID(), randomUUID(), randomUUID()];
    expect((await merchant.post('/v1/charges', ok, okKey)).status).toBe(201);
    expect((await merchant.post('/v1/charges', ok, okKey)).status).toBe(201);
    expect((await merchant.post('/v1/charges', declined, declinedKey)).status).toBe(402);
    expect((await merchant.post('/v1/charges', declined, declinedKey)).status).toBe(402);
    expect((await merchant.post('/v1/charges', lost, lostKey)).status).toBe(202);
    expect({ succeeded: await counted('succeeded'), declined: await counted('card_declined') }).toEqual({
      succeeded: before.succeeded + 1,
      declined: before.declined + 1,
    });
    expect((await merchant.post('/v1/charges', lost, lostKey)).status).toBe(201);
    expect(await counted('succeeded')).toBe(before.succeeded + 2);
    // The wallet's charges keep their own series.
    expect((await merchant.get('/metrics')).text).not.toMatch(/^charges_total\{outcome=/m);
  });

  it('card_charge_keys counts the unfinished keys by recovery point, read through their partial index: a scrape never passes over the finished ones', async () => {
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const started = await handMade(body, 'started', 0);
    const called = await handMade(body, 'acquirer_called', 1);
    const text = (await merchant.get('/metrics')).text;
    // At least these two (other test files may hold unfinished keys of their own at the same time).
    for (const point of ['started', 'acquirer_called']) {
      const gauge = new RegExp(`^card_charge_keys\\{recovery_point="${point}"\\} (\\d+)$`, 'm').exec(text)?.[1];
      expect(Number(gauge)).toBeGreaterThanOrEqual(1);
    }
    expect(text).not.toMatch(/card_charge_keys\{recovery_point="finished"\}/);
    expect(Number(/^card_charge_oldest_unfinished_key_age_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);

    // The plan of the census with sequential scans priced out: only the partial index of the
    // unfinished keys (the completer's) is read. Counting every key with a recovery point cannot use it.
    const plan = JSON.stringify(
      await app.dataSource.transaction(async (manager) => {
        await manager.query('SET LOCAL enable_seqscan = off');
        return manager.query(`EXPLAIN (FORMAT JSON) ${CENSUS_SQL}`);
      }),
    );
    expect(plan).toContain('"Index Name":"idempotency_keys_unfinished_idx"');
    expect(plan).not.toContain('"Node Type":"Seq Scan"');
    expect(plan.match(/"Index Name":"[^"]+"/g)).toEqual(['"Index Name":"idempotency_keys_unfinished_idx"']);

    // Resolved by the completer, so nothing is left unfinished by this test.
    await app.app.get(CompleterService).runOnce(0);
    expect(await keyRow(started.key)).toBeUndefined();
    expect(await keyRow(called.key)).toMatchObject({ recovery_point: 'finished' });
  });
});

describe('card charges while the acquirer is down', () => {
  let acquirer: AcquirerProcess;
  let app: TestApp;
  let merchant: MerchantClient;

  beforeAll(async () => {
    acquirer = await AcquirerProcess.start();
    // One unreachable answer opens the circuit, for longer than this file runs.
    app = await TestApp.start({ acquirerUrl: acquirer.url, acquirerCircuitThreshold: 1, acquirerCircuitOpenMs: 600_000 });
    merchant = await app.merchant('cards-down');
  });

  afterAll(async () => {
    await app.close();
    await acquirer.close();
  });

  const keyRow = async (key: string) =>
    (
      await app.dataSource.query(`SELECT recovery_point, attempts FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`, [
        merchant.id,
        key,
      ])
    )[0];

  it('202 once the request may have left; 503 acquirer_unavailable, key left at started, while the circuit is open; then resolved', async () => {
    await acquirer.stop();
    const body = { ...CARD, payment_method: 'pm_test_ok' };
    const sent = randomUUID();
    expect((await merchant.post('/v1/charges', body, sent)).status).toBe(202);
    expect(await keyRow(sent)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1 });

    const refused = randomUUID();
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await merchant.post('/v1/charges', body, refused);
      expect(reply.status).toBe(503);
      expect(reply.body.code).toBe('acquirer_unavailable');
      expect(reply.headers.get('retry-after')).toBe('600');
      expect(reply.headers.get('idempotency-expires')).toBeNull();
      expect(await keyRow(refused)).toMatchObject({ recovery_point: 'started', attempts: 0 });
    }
    // A key already at acquirer_called is not refused: its request may have gone out. 202.
    expect((await merchant.post('/v1/charges', body, sent)).status).toBe(202);
    expect(await keyRow(sent)).toMatchObject({ recovery_point: 'acquirer_called', attempts: 1 });

    // The completer rolls back the key whose request never left, and leaves the other undecided.
    const run = await app.app.get(CompleterService).runOnce(0);
    expect(run).toMatchObject({ rolledBack: 1, undecided: 1 });
    expect(await keyRow(refused)).toBeUndefined();

    // The acquirer is back; another instance (its circuit closed) completes the key.
    await acquirer.restart();
    const other = await TestApp.start({ acquirerUrl: acquirer.url });
    try {
      expect(await other.app.get(CompleterService).runOnce(0)).toMatchObject({ finished: 1 });
    } finally {
      await other.close();
    }
    const replay = await merchant.post('/v1/charges', body, sent);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');

    const metrics = (await merchant.get('/metrics')).text;
    expect(metrics).toMatch(/acquirer_requests_total\{outcome="network"\} 1/);
    expect(metrics).toMatch(/completer_actions_total\{action="rolled_back"\} 1/);
    expect(metrics).toMatch(/idempotency_lease_takeovers_total\{by="completer"\} 2/);
    expect(metrics).toMatch(/charges_total\{kind="card",outcome="acquirer_unavailable"\} [1-9]/);
    expect(metrics).toMatch(/card_charge_oldest_unfinished_key_age_seconds \d/);

    const violations = await cardInvariantViolations(
      (sql, parameters) => app.dataSource.query(sql, parameters),
      await acquirerCaptures(acquirer.url),
      [merchant.id],
      { drained: true },
    );
    expect(violations).toEqual({ doubleCaptures: [], capturesOffTheLedger: [], effectsWithoutCapture: [], unfinishedKeys: [] });
  });
});
