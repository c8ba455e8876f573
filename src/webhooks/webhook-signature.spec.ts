import { createHmac } from 'node:crypto';
import { isWebhookSecret, newWebhookSecret, signWebhook } from './webhook-signature.js';

// The published vector of the Standard Webhooks specification's libraries (their "sign function
// works" test, the same in JavaScript, Python, Go, Java, C# and PHP).
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  payload: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('signWebhook', () => {
  it('signs the published vector: id, timestamp in seconds and the v1 signature', () => {
    const headers = signWebhook({ id: VECTOR.id, timestamp: new Date(VECTOR.timestamp * 1000), payload: VECTOR.payload }, [VECTOR.secret]);
    expect(headers).toEqual({
      'webhook-id': VECTOR.id,
      'webhook-timestamp': String(VECTOR.timestamp),
      'webhook-signature': VECTOR.signature,
    });
  });

  it('signs the payload as bytes the same as the same payload as text, and sends whole seconds', () => {
    const headers = signWebhook(
      { id: VECTOR.id, timestamp: new Date(VECTOR.timestamp * 1000 + 999), payload: new TextEncoder().encode(VECTOR.payload) },
      [VECTOR.secret],
    );
    expect(headers['webhook-timestamp']).toBe(String(VECTOR.timestamp));
    expect(headers['webhook-signature']).toBe(VECTOR.signature);
  });

  it('during a secret roll signs with every secret, space-separated, in the order given', () => {
    const other = newWebhookSecret();
    const message = { id: VECTOR.id, timestamp: new Date(VECTOR.timestamp * 1000), payload: VECTOR.payload };
    const expectedOther = createHmac('sha256', Buffer.from(other.slice('whsec_'.length), 'base64'))
      .update(`${VECTOR.id}.${VECTOR.timestamp}.${VECTOR.payload}`)
      .digest('base64');
    expect(signWebhook(message, [other, VECTOR.secret])['webhook-signature']).toBe(`v1,${expectedOther} ${VECTOR.signature}`);
  });

  it('refuses what would make an ambiguous or unverifiable signature', () => {
    const message = { id: VECTOR.id, timestamp: new Date(VECTOR.timestamp * 1000), payload: VECTOR.payload };
    expect(() => signWebhook({ ...message, id: 'msg_1.2' }, [VECTOR.secret])).toThrow(RangeError);
    expect(() => signWebhook({ ...message, id: '' }, [VECTOR.secret])).toThrow(RangeError);
    expect(() => signWebhook({ ...message, timestamp: new Date(Number.NaN) }, [VECTOR.secret])).toThrow(RangeError);
    expect(() => signWebhook(message, [])).toThrow(RangeError);
    // Without the prefix, too short, or not standard base64.
    for (const secret of [
      'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'whsec_',
      'whsec_c2hvcnQ=',
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS-',
      'whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw',
    ]) {
      expect(() => signWebhook(message, [secret])).toThrow(RangeError);
    }
  });
});

describe('newWebhookSecret', () => {
  it('makes distinct whsec_ secrets of 32 random bytes that sign', () => {
    const secrets = Array.from({ length: 100 }, () => newWebhookSecret());
    expect(new Set(secrets).size).toBe(100);
    for (const secret of secrets) {
      expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
      expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
      expect(isWebhookSecret(secret)).toBe(true);
    }
    expect(isWebhookSecret(VECTOR.secret)).toBe(true);
    expect(isWebhookSecret('whsec_c2hvcnQ=')).toBe(false);
  });
});
