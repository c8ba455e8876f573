// A bound on waiting for an answer (a database's, the acquirer's, a webhook receiver's) that first
// reads the answers that came in time. A process that stood still past the bound (a long GC pause,
// a frozen VM, SIGSTOP) runs its overdue timers on waking before it polls its sockets: a bare
// timer there declares "no answer" for an answer waiting in the socket. Chaos 15 showed it: an
// instance frozen with a statement out answered 503 on waking for a write that had committed.

/**
 * Calls `onDue` once `ms` have passed and the I/O that arrived by then was read (setImmediate runs
 * after the event loop's next poll for I/O). Returns the cancel. The timer keeps no process alive.
 */
export function afterPendingIo(ms: number, onDue: () => void): () => void {
  let cancelled = false;
  const timer = setTimeout(() => setImmediate(() => cancelled || onDue()), ms);
  timer.unref();
  return () => {
    cancelled = true;
    clearTimeout(timer);
  };
}

/** AbortSignal.timeout(ms) (aborted with a TimeoutError DOMException), by afterPendingIo. */
export function answerTimeoutSignal(ms: number): AbortSignal {
  const controller = new AbortController();
  afterPendingIo(ms, () => controller.abort(new DOMException(`No answer within ${ms} ms.`, 'TimeoutError')));
  return controller.signal;
}
