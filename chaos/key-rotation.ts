import { sleep } from './cluster.js';
import { finish, prepare, type ScenarioResult, type Settings } from './scenarios.js';
import { startService } from './service.js';

/** The service's default API_KEY_CACHE_MS: how long another instance may still take a revoked key. */
const REVOCATION_BOUND_MS = 1_000;

/**
 * 12. Keys rolled and revoked under load, on two instances. Keyed charges run throughout (sent to
 * either instance, as scenario 5's);
 * beside it, a "deployment" holds one key of the merchant and charges with it on both instances
 * while the key is rolled with an overlap (the deployment switches to the new secret at a drawn
 * moment inside the overlap, as a rolling deploy would), and spare keys are created, used and
 * revoked. Checked: no request with a key that is valid (not yet revoked, inside its overlap)
 * is refused, and no request with a revoked key succeeds once the bound has passed.
 */
export async function keyRotation(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const services = [await startService(settings.cluster.url), await startService(settings.cluster.url)];
  const parts = await prepare(settings, 'key-rotation', services);
  const { random, workload, history } = parts;
  const manager = parts.merchant.apiKey;
  const rounds = settings.quick ? 4 : 12;
  let faults = 0;
  let running = true;
  const load = Promise.all(
    Array.from({ length: 4 }, async () => {
      while (running) {
        const body = { amount: random.int(1, 300), currency: 'usd', source: random.pick(workload.accounts), capture: random.chance(0.8) };
        await parts.client.send('POST', '/v1/charges', body, random.uuid());
      }
    }),
  );

  const call = async (method: string, path: string, secret: string, body?: unknown) => {
    history.requests++;
    const url = `${random.pick(services).url}${path}`;
    const response = await fetch(url, {
      method,
      headers: {
        ...auth(secret).headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json', 'idempotency-key': random.uuid() }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined };
  };

  let deployed = (await call('POST', '/v1/api_keys', manager, { name: 'deployment', scopes: ['balance:read', 'keys:manage'] })).body as {
    id: string;
    secret: string;
  };
  for (let round = 0; round < rounds; round++) {
    // A roll with an overlap: the old secret keeps working while the deployment moves over.
    const overlapSeconds = 3;
    const rolled = (await call('POST', `/v1/api_keys/${deployed.id}/roll`, deployed.secret, { expires_in_seconds: overlapSeconds }))
      .body as { id: string; secret: string } | undefined;
    if (!rolled?.secret) {
      history.violations.push(`round ${round}: rolling the deployment's key failed`);
      break;
    }
    faults++;
    const switchAt = Date.now() + random.int(0, 2_000);
    while (Date.now() < switchAt) {
      const reply = await call('GET', '/v1/balance', deployed.secret);
      if (reply.status !== 200) history.violations.push(`round ${round}: the old key was refused inside its overlap (${reply.status})`);
    }
    deployed = rolled;
    for (let i = 0; i < 10; i++) {
      const reply = await call('GET', '/v1/balance', deployed.secret);
      if (reply.status !== 200) history.violations.push(`round ${round}: the new key was refused (${reply.status})`);
    }

    // A spare key, used on both instances, revoked, then refused everywhere after the bound.
    const spare = (await call('POST', '/v1/api_keys', manager, { name: `spare ${round}`, scopes: ['balance:read'] })).body as {
      id: string;
      secret: string;
    };
    for (const service of services) {
      const reply = await fetch(`${service.url}/v1/balance`, auth(spare.secret));
      if (reply.status !== 200) history.violations.push(`round ${round}: a new key was refused (${reply.status})`);
    }
    const revoked = await call('DELETE', `/v1/api_keys/${spare.id}`, manager);
    if (revoked.status !== 200) history.violations.push(`round ${round}: revoking a key answered ${revoked.status}`);
    faults++;
    await sleep(REVOCATION_BOUND_MS + 50);
    for (const service of services) {
      const reply = await fetch(`${service.url}/v1/balance`, auth(spare.secret));
      if (reply.status !== 401)
        history.violations.push(`round ${round}: a key revoked over ${REVOCATION_BOUND_MS} ms ago answered ${reply.status}`);
    }
  }
  running = false;
  await load;
  const scenario = {
    name: '12. keys rolled and revoked under load',
    checks: 'a valid key is never refused; a revoked one is refused everywhere after 1 s',
  };
  return finish(settings, scenario, started, services, parts, faults);
}

function auth(secret: string): { headers: Record<string, string> } {
  return { headers: { authorization: `Bearer ${secret}` } };
}
