import { afterPendingIo, answerTimeoutSignal } from './answer-deadline.js';

// The pause itself (an answer that came while the process stood still) needs a real SIGSTOP of a
// process of its own: test/sql-transaction.e2e-spec.ts. Here, the bound as a bound.
describe('afterPendingIo', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('calls back once the time has passed, and never once cancelled', async () => {
    const calls: string[] = [];
    afterPendingIo(20, () => calls.push('due'));
    const cancel = afterPendingIo(20, () => calls.push('cancelled'));
    cancel();
    await sleep(60);
    expect(calls).toEqual(['due']);
  });

  it('gives an AbortSignal that aborts like AbortSignal.timeout: a TimeoutError', async () => {
    const signal = answerTimeoutSignal(20);
    expect(signal.aborted).toBe(false);
    await sleep(60);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DOMException);
    expect((signal.reason as DOMException).name).toBe('TimeoutError');
  });
});
