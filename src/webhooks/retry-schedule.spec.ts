import { DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS, loadConfig } from '../config/app-config.js';
import { retryDelayMs } from './retry-schedule.js';

describe('the retry schedule', () => {
  it('waits each step within ±20 % of its value, then gives up', () => {
    const schedule = [5_000, 300_000];
    expect(retryDelayMs(schedule, 1, () => 0)).toBe(4_000);
    expect(retryDelayMs(schedule, 1, () => 0.5)).toBe(5_000);
    expect(retryDelayMs(schedule, 2, () => 0.999999)).toBeLessThanOrEqual(360_000);
    expect(retryDelayMs(schedule, 3)).toBeUndefined();
  });

  it('spans about three days by default, and disables an endpoint after the shortest the schedule can take', () => {
    const total = DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.reduce((sum, wait) => sum + wait, 0);
    expect(total / 3_600_000).toBeGreaterThan(60);
    expect(total / 3_600_000).toBeLessThan(72);
    expect(DEFAULT_WEBHOOK_RETRY_SCHEDULE_MS.slice(0, 6)).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000]);
    expect(loadConfig({}).webhookDisableAfterSeconds).toBe(Math.floor((total * 0.8) / 1000));
    expect(loadConfig({ WEBHOOK_RETRY_SCHEDULE_MS: '1000,2000' }).webhookDisableAfterSeconds).toBe(2);
    expect(loadConfig({ WEBHOOK_DISABLE_AFTER_SECONDS: '60' }).webhookDisableAfterSeconds).toBe(60);
  });
});
