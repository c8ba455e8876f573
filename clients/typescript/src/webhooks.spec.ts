import { describe, expect, it } from '@jest/globals';
import { WebhookVerificationError, verifyWebhook, type WebhookVerificationFailure } from './webhooks.js';

// The published vectors of the Standard Webhooks specification's libraries
// (github.com/standard-webhooks/standard-webhooks, libraries/*/tests: "sign function works",
// "invalid signature", "partial signature", "multi sig payload is valid", the whsec_ prefix and the
// unpadded secrets). Their tests take the clock's time; here the clock is the vector's timestamp,
// so every case is the same on every run.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TIMESTAMP = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';
/** Signatures the libraries' tests put around the valid one: wrong, and of a version to ignore. */
const NOT_MATCHING = 'v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';
const OTHER_VERSION = 'v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=';

const atVectorTime = { now: () => TIMESTAMP * 1000 };

function vectorHeaders(overrides: Record<string, string | undefined> = {}): Record<string, string | undefined> {
  return { 'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP), 'webhook-signature': SIGNATURE, ...overrides };
}

async function refusal(verification: Promise<unknown>): Promise<WebhookVerificationFailure> {
  try {
    await verification;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return error.reason;
    throw error;
  }
  throw new Error('the webhook was accepted');
}

describe('verifyWebhook', () => {
  it('accepts the published vector and returns its parsed body, with the whsec_ prefix and without', async () => {
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, atVectorTime)).resolves.toEqual({ test: 2432232314 });
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET.slice('whsec_'.length), atVectorTime)).resolves.toEqual({
      test: 2432232314,
    });
  });

  it('accepts the raw body as bytes (a Node Buffer is a Uint8Array)', async () => {
    await expect(verifyWebhook(new TextEncoder().encode(PAYLOAD), vectorHeaders(), SECRET, atVectorTime)).resolves.toEqual({
      test: 2432232314,
    });
  });

  it("accepts secrets given without their base64 padding (the Python library's vectors)", async () => {
    // Signatures of the vector's id, timestamp and payload under the padded secrets, made with node:crypto's HMAC.
    const unpadded = [
      { secret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS', signature: 'v1,LVOXivKoo4FWasi/IaHvzhE/u+7/cu2AME+zS/nXqzk=' },
      { secret: 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr', signature: 'v1,yK2tMbA6BHPrMEJ1lLv7UlJJbgFoqGenJkiajZ29evg=' },
      { secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr', signature: 'v1,yK2tMbA6BHPrMEJ1lLv7UlJJbgFoqGenJkiajZ29evg=' },
    ];
    for (const { secret, signature } of unpadded) {
      await expect(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-signature': signature }), secret, atVectorTime)).resolves.toEqual({
        test: 2432232314,
      });
    }
  });

  it('refuses a wrong secret, a tampered payload, another id or timestamp under the same signature', async () => {
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx', atVectorTime))).toBe(
      'no_matching_signature',
    );
    expect(await refusal(verifyWebhook('{"test": 2432232315}', vectorHeaders(), SECRET, atVectorTime))).toBe('no_matching_signature');
    expect(
      await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJeK' }), SECRET, atVectorTime)),
    ).toBe('no_matching_signature');
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-timestamp': String(TIMESTAMP + 1) }), SECRET, atVectorTime))).toBe(
      'no_matching_signature',
    );
  });

  it('refuses the published invalid and partial signatures', async () => {
    const invalid = [
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=',
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLawdd',
      'v1,dawfeoifkpqwoekfpqoekf',
      'v1,',
      SIGNATURE.slice(0, 8),
      NOT_MATCHING,
    ];
    for (const signature of invalid) {
      expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-signature': signature }), SECRET, atVectorTime))).toBe(
        'no_matching_signature',
      );
    }
  });

  it('accepts a list of several signatures when one matches, and ignores versions other than v1', async () => {
    const list = [NOT_MATCHING, OTHER_VERSION, SIGNATURE, NOT_MATCHING].join(' ');
    await expect(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-signature': list }), SECRET, atVectorTime)).resolves.toEqual({
      test: 2432232314,
    });
    // The right bytes under another version are not a v1 signature.
    const otherVersions = ['v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=', 'v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE='].join(' ');
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-signature': otherVersions }), SECRET, atVectorTime))).toBe(
      'no_matching_signature',
    );
  });

  it('during a secret roll accepts a signature of any of the secrets given', async () => {
    const other = 'whsec_' + btoa(String.fromCharCode(...Array.from({ length: 32 }, (_, index) => index)));
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), [other, SECRET], atVectorTime)).resolves.toEqual({ test: 2432232314 });
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), [SECRET, other], atVectorTime)).resolves.toEqual({ test: 2432232314 });
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), [other], atVectorTime))).toBe('no_matching_signature');
  });

  it('refuses a timestamp more than the tolerance away, either way, and accepts one at the tolerance', async () => {
    const at = (seconds: number) => ({ now: () => seconds * 1000 });
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, at(TIMESTAMP + 301)))).toBe('timestamp_too_old');
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, at(TIMESTAMP - 301)))).toBe('timestamp_too_new');
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, at(TIMESTAMP + 300))).resolves.toEqual({ test: 2432232314 });
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, at(TIMESTAMP - 300))).resolves.toEqual({ test: 2432232314 });
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, { now: at(TIMESTAMP + 11).now, toleranceSeconds: 10 }))).toBe(
      'timestamp_too_old',
    );
    // The default clock: the vector is from 2021, long past any tolerance.
    expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET))).toBe('timestamp_too_old');
  });

  it('refuses missing headers and a timestamp that is not whole seconds', async () => {
    for (const name of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
      expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ [name]: undefined }), SECRET, atVectorTime))).toBe('missing_header');
      expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ [name]: '' }), SECRET, atVectorTime))).toBe('missing_header');
    }
    for (const timestamp of ['hello', '1614265330.5', '-1614265330', '1614265330000000000', '1e9']) {
      expect(await refusal(verifyWebhook(PAYLOAD, vectorHeaders({ 'webhook-timestamp': timestamp }), SECRET, atVectorTime))).toBe(
        'invalid_timestamp',
      );
    }
  });

  it('reads fetch Headers and Node header records in any case, several webhook-signature lines included', async () => {
    await expect(verifyWebhook(PAYLOAD, new Headers(vectorHeaders() as Record<string, string>), SECRET, atVectorTime)).resolves.toEqual({
      test: 2432232314,
    });
    const mixedCase = { 'Webhook-Id': ID, 'WEBHOOK-TIMESTAMP': String(TIMESTAMP), 'webhook-Signature': [SIGNATURE, NOT_MATCHING] };
    await expect(verifyWebhook(PAYLOAD, mixedCase, SECRET, atVectorTime)).resolves.toEqual({ test: 2432232314 });
    const lines = new Headers({ 'webhook-id': ID, 'webhook-timestamp': String(TIMESTAMP) });
    // Headers.get joins the lines with ", ": the matching one must not lose itself to that comma.
    lines.append('webhook-signature', SIGNATURE);
    lines.append('webhook-signature', NOT_MATCHING);
    await expect(verifyWebhook(PAYLOAD, lines, SECRET, atVectorTime)).resolves.toEqual({ test: 2432232314 });
  });

  it('refuses a signed body that is not JSON (an empty one included)', async () => {
    // Signed with the vector's secret, id and timestamp by node:crypto's HMAC.
    const signed = [
      { payload: 'not json', signature: 'v1,aE5G1260jAS4eUjsE1sxSpaEAl8j0b6VOwoF9zx6FTk=' },
      { payload: '', signature: 'v1,v48jdbgvh29KJz2Qc+ghw8G6vG3nAKnujWBg8oM/62A=' },
    ];
    for (const { payload, signature } of signed) {
      expect(await refusal(verifyWebhook(payload, vectorHeaders({ 'webhook-signature': signature }), SECRET, atVectorTime))).toBe(
        'payload_not_json',
      );
    }
  });

  it('throws a TypeError, not a refusal, for an unusable secret, a parsed body or a broken clock', async () => {
    for (const secret of ['', 'whsec_', 'whsec_not base64!', []]) {
      await expect(verifyWebhook(PAYLOAD, vectorHeaders(), secret, atVectorTime)).rejects.toThrow(TypeError);
    }
    await expect(verifyWebhook(JSON.parse(PAYLOAD) as string, vectorHeaders(), SECRET, atVectorTime)).rejects.toThrow(TypeError);
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, { now: () => Number.NaN })).rejects.toThrow(TypeError);
    await expect(verifyWebhook(PAYLOAD, vectorHeaders(), SECRET, { ...atVectorTime, toleranceSeconds: Number.NaN })).rejects.toThrow(
      TypeError,
    );
  });
});
