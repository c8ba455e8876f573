import { subscribe } from 'node:diagnostics_channel';
import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config.js';
import type { CrashPoint } from './crash-points.js';

/** The undici channel that tells a request's body has been handed to the socket (Node's fetch is undici). */
const BODY_SENT_CHANNEL = 'undici:request:bodySent';

/**
 * Test-only hooks of the card-charge phases (loadConfig refuses them unless NODE_ENV=test): a
 * SIGKILL of this process at a boundary, so a crash lands exactly there rather than wherever a
 * timer happens to fall. Unarmed (production), every call is a no-op.
 */
@Injectable()
export class CardChargeTestHooks {
  private readonly armed: Set<CrashPoint>;
  private state: number;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const crash = config.cardChargeCrash;
    this.armed = new Set(crash?.points ?? []);
    this.state = (crash?.seed ?? 0) >>> 0;
    if (this.armed.has('in_call')) {
      // "In the call": the request has left for the acquirer, its answer has not come.
      const acquirer = new URL(config.acquirerUrl).origin;
      subscribe(BODY_SENT_CHANNEL, (message) => {
        const request = (message as { request?: { origin?: unknown; method?: unknown; path?: unknown } }).request;
        if (request?.origin === acquirer && request.method === 'POST' && request.path === '/v1/payments') this.crashAt('in_call');
      });
    }
  }

  /** SIGKILLs this process when `point` is armed (and drawn). */
  crashAt(point: CrashPoint): void {
    if (!this.armed.has(point) || !this.draw()) return;
    process.kill(process.pid, 'SIGKILL');
  }

  private draw(): boolean {
    const probability = this.config.cardChargeCrash?.probability ?? 0;
    if (probability >= 1) return true;
    // mulberry32, as the harness's own random source.
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296 < probability;
  }
}
