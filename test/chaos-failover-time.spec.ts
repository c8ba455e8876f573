import { FailoverClock, SWITCH_SEEN_WITHIN_MS } from '../chaos/failover-time.js';

// Chaos scenario 18's failover time, read from the probe's deposits. Its first version kept
// waiting for a 503 that a switch failing no deposit never gives, and reported "no 2xx within
// 60 s"; its second counted the first 2xx after a SIGKILL as 0, while the killed postmaster's
// server processes were still answering.
describe('FailoverClock', () => {
  const FAULT = 1_000_000;
  const clockAfterFault = () => new FailoverClock(() => FAULT);
  const answer = (sentAt: number, answeredAt: number, status: number) => ({ sentAt, answeredAt, status });

  it('measures from the first 503 to the first 2xx after it', () => {
    const clock = clockAfterFault();
    expect(clock.read(answer(FAULT + 10, FAULT + 20, 503))).toBeUndefined();
    expect(clock.read(answer(FAULT + 120, FAULT + 130, 503))).toBeUndefined();
    expect(clock.read(answer(FAULT + 230, FAULT + 3_020, 201))).toEqual({ failoverMs: 3_000, stallMs: 2_790 });
  });

  it('waits past a 2xx right after the fault: the outage may come after it', () => {
    const clock = clockAfterFault();
    expect(clock.read(answer(FAULT + 5, FAULT + 90, 201))).toBeUndefined();
    expect(clock.read(answer(FAULT + 200, FAULT + 210, 503))).toBeUndefined();
    expect(clock.read(answer(FAULT + 5_000, FAULT + 5_050, 201))).toEqual({ failoverMs: 4_840, stallMs: 85 });
  });

  it('counts a switch that failed no deposit within the window as 0, with the slowest deposit', () => {
    const clock = clockAfterFault();
    expect(clock.read(answer(FAULT + 5, FAULT + 1_405, 201))).toBeUndefined();
    expect(clock.read(answer(FAULT + 1_500, FAULT + 1_510, 201))).toBeUndefined();
    const late = FAULT + SWITCH_SEEN_WITHIN_MS + 1;
    expect(clock.read(answer(late - 10, late, 201))).toEqual({ failoverMs: 0, stallMs: 1_400 });
  });

  it('reads nothing into deposits before the fault took effect', () => {
    let faultAt: number | undefined = undefined;
    const clock = new FailoverClock(() => faultAt);
    expect(clock.read(answer(FAULT - 20_000, FAULT - 19_000, 201))).toBeUndefined();
    faultAt = FAULT;
    expect(clock.read(answer(FAULT - 100, FAULT + 50, 201))).toBeUndefined();
  });
});
