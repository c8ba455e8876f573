import { WebhookVerificationError, verifyWebhook } from '@payments/client';
import fc from 'fast-check';
import { newWebhookSecret, signWebhook } from '../src/webhooks/webhook-signature.js';
import { WebhookReceiver } from '../testing/webhook-receiver.js';

// The service's signer (src/webhooks) and the client's verifier (@payments/client, built) agree:
// what one signs the other accepts, over real HTTP to a receiver written as the client's README
// says, and nothing else. Neither imports the other; only this test sees both.

async function deliver(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; reason?: string }> {
  const response = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await response.text();
  return { status: response.status, ...(text ? (JSON.parse(text) as { reason: string }) : {}) };
}

describe('webhook signatures, from the service to a receiver', () => {
  it('whatever the id, payload, time and secrets, what signWebhook signs verifyWebhook accepts with any one of the secrets, and refuses with another', async () => {
    const secretsArbitrary = fc.array(
      fc.uint8Array({ minLength: 24, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`),
      { minLength: 1, maxLength: 3 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
        fc.jsonValue().map((value) => JSON.stringify(value)),
        fc.integer({ min: 0, max: 4_102_444_800 }),
        secretsArbitrary,
        async (id, payload, seconds, secrets) => {
          const headers = signWebhook({ id, timestamp: new Date(seconds * 1000), payload }, secrets);
          const now = () => seconds * 1000;
          for (const secret of secrets) {
            await expect(verifyWebhook(payload, headers, secret, { now })).resolves.toEqual(JSON.parse(payload));
          }
          const stranger = newWebhookSecret();
          const refusal = await verifyWebhook(payload, headers, stranger, { now }).catch((error: unknown) => error);
          expect(refusal).toBeInstanceOf(WebhookVerificationError);
          expect((refusal as WebhookVerificationError).reason).toBe('no_matching_signature');
        },
      ),
      { numRuns: 200 },
    );
  });

  describe('over HTTP', () => {
    let receiver: WebhookReceiver;
    const oldSecret = newWebhookSecret();
    const newSecret = newWebhookSecret();

    beforeAll(async () => {
      receiver = await WebhookReceiver.start([oldSecret]);
    });

    afterAll(async () => {
      await receiver.stop();
    });

    it('a receiver verifies the raw body it was sent, bytes beyond ASCII included, and applies a repeated webhook-id once', async () => {
      const payload = JSON.stringify({ id: 'evt_1', type: 'charge.succeeded', data: { description: 'Zürich café ☕ 💳', amount: 1250 } });
      const headers = signWebhook({ id: 'evt_1', timestamp: new Date(), payload }, [oldSecret]);
      const attempts = await Promise.all(Array.from({ length: 5 }, () => deliver(receiver.url, payload, headers)));
      expect(attempts.map((attempt) => attempt.status)).toEqual([204, 204, 204, 204, 204]);
      expect(receiver.applied.filter((applied) => applied.id === 'evt_1')).toEqual([{ id: 'evt_1', event: JSON.parse(payload) }]);
    });

    it('during a secret roll, signed with both secrets, a receiver that holds either one accepts', async () => {
      for (const [index, held] of [[oldSecret], [newSecret], [newSecret, oldSecret]].entries()) {
        receiver.secrets = held;
        const payload = JSON.stringify({ id: `evt_roll_${index}`, type: 'charge.captured' });
        const headers = signWebhook({ id: `evt_roll_${index}`, timestamp: new Date(), payload }, [newSecret, oldSecret]);
        expect(await deliver(receiver.url, payload, headers)).toEqual({ status: 204 });
      }
      receiver.secrets = [newWebhookSecret()];
      const payload = JSON.stringify({ id: 'evt_roll_x', type: 'charge.captured' });
      const headers = signWebhook({ id: 'evt_roll_x', timestamp: new Date(), payload }, [newSecret, oldSecret]);
      expect(await deliver(receiver.url, payload, headers)).toEqual({ status: 400, reason: 'no_matching_signature' });
      receiver.secrets = [oldSecret];
    });

    it('a body changed on the way, a replay from long ago or a request without the headers is refused and not applied', async () => {
      const payload = JSON.stringify({ id: 'evt_forged', type: 'charge.refunded', data: { amount: 100 } });
      const headers = signWebhook({ id: 'evt_forged', timestamp: new Date(), payload }, [oldSecret]);
      expect(await deliver(receiver.url, payload.replace('100', '100000'), headers)).toEqual({
        status: 400,
        reason: 'no_matching_signature',
      });
      // Re-serialised JSON is other bytes: what the README warns receivers of.
      expect(await deliver(receiver.url, JSON.stringify(JSON.parse(payload), null, 2), headers)).toEqual({
        status: 400,
        reason: 'no_matching_signature',
      });

      const replayed = signWebhook({ id: 'evt_forged', timestamp: new Date(Date.now() - 3_600_000), payload }, [oldSecret]);
      expect(await deliver(receiver.url, payload, replayed)).toEqual({ status: 400, reason: 'timestamp_too_old' });
      expect(await deliver(receiver.url, payload, {})).toEqual({ status: 400, reason: 'missing_header' });
      expect(receiver.applied.some((applied) => applied.id === 'evt_forged')).toBe(false);
    });
  });
});
