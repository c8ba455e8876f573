import { Fleet } from '../testing/fleet.js';
import { missingFleetBinaries, missingFleetMessage } from '../testing/system-binaries.js';
import { checkScenario } from './checker.js';
import { ChaosClient, History } from './client.js';
import { sleep } from './cluster.js';
import { Random } from './random.js';
import { newMerchant, type ScenarioResult, type Settings } from './scenarios.js';
import { ADMIN_TOKEN } from './service.js';
import { Workload } from './workload.js';

const SCENARIO = {
  name: '11. fleet: HAProxy + PgBouncer, kills',
  checks: 'three instances, one pooler: kills and pooler restarts lose or double nothing',
};

/**
 * 11. The fleet (testing/fleet.ts): three instances behind HAProxy, on PgBouncer in transaction
 * mode, under the mixed workload and double submits (whose twins HAProxy sends to different
 * instances), while instances are SIGKILLed and restarted and PgBouncer is restarted. During the
 * faults an answer may be 503 (HAProxy's own, for an instance that died mid-request, or the
 * service's while the pooler is down); afterwards every answer is decided at the first attempt
 * again, and every key replays through the load balancer, whichever instance answers.
 */
export async function fleetFaults(settings: Settings): Promise<ScenarioResult> {
  const started = Date.now();
  const missing = missingFleetBinaries();
  if (missing.length > 0) {
    const message = missingFleetMessage(missing, 'The fleet scenario');
    const violations = message === undefined ? [] : [message];
    return { ...SCENARIO, checks: `not run: ${message ?? 'SKIP_FLEET_TESTS=1'}`, requests: 0, faults: 0, violations, seconds: 0 };
  }

  const fleet = await Fleet.start({ databaseUrl: settings.cluster.url, adminToken: ADMIN_TOKEN, echo: true });
  const history = new History();
  const random = new Random(settings.seed);
  let faults = 0;
  try {
    const merchant = await newMerchant(fleet.url, 'fleet', random);
    const client = new ChaosClient(history, merchant.apiKey, () => [fleet.url], random);
    const workload = await Workload.setUp(client, random);
    let running = true;
    const load = Promise.all([workload.run(6, () => running), workload.storm(4, () => running)]);

    await sleep(500);
    history.databaseFault = true; // 503 is the fleet's answer while a part of it is down
    const rounds = settings.quick ? 4 : 10;
    for (let round = 0; round < rounds; round++) {
      await sleep(random.int(500, 1_500));
      if (round % 2 === 1) {
        // PgBouncer restarted: every connection of every instance to it is dropped at once.
        await fleet.pgbouncer.stop();
        await sleep(random.int(100, 600));
        await fleet.pgbouncer.restart();
      } else {
        const victim = random.pick(fleet.services);
        await victim.kill('SIGKILL');
        await sleep(random.int(0, 500));
        await victim.restart();
      }
      faults++;
    }
    // Until HAProxy's health checks see the restarted instances and the pools have dropped the
    // connections PgBouncer's restart cut, an answer may still be 503; from then on it may not.
    await fleet.haproxy.waitUntilReady();
    await sleep(2_500);
    history.databaseFault = false;
    await sleep(1_500);
    running = false;
    await load;

    const retried = history.exchanges.filter((exchange) => exchange.attempts > 1).length;
    console.log(`  fleet: ${retried} requests needed more than one attempt during ${faults} faults`);
    const checked = await checkScenario(settings.cluster.url, merchant.id, history, client, fleet.url);
    const violations = [...fleet.unexpectedExits, ...history.violations, ...checked];
    return { ...SCENARIO, requests: history.requests, faults, violations, seconds: (Date.now() - started) / 1000 };
  } finally {
    await fleet.stop();
  }
}
