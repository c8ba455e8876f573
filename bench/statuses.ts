// What a phase's failed answers were, read from the service's own /metrics: wrk counts answers
// of 400 and above but does not say which, and a bare count hides whether a phase measured
// refusals (409, 422, 428) or an outage (503).

/** Answers so far by HTTP status, summed over methods and routes, from http_requests_total. */
export function answersByStatus(metricsText: string): Map<number, number> {
  const counts = new Map<number, number>();
  for (const [, status, value] of metricsText.matchAll(/^http_requests_total\{[^}]*\bstatus="(\d{3})"[^}]*\} (\d+(?:\.\d+)?)$/gm)) {
    counts.set(Number(status), (counts.get(Number(status)) ?? 0) + Number(value));
  }
  return counts;
}

/** The answers of 400 and above between two readings, as "409: 12, 503: 2" (empty when none). */
export function failedAnswersBetween(before: Map<number, number>, after: Map<number, number>): string {
  return [...after]
    .filter(([status]) => status >= 400)
    .map(([status, count]) => [status, count - (before.get(status) ?? 0)] as const)
    .filter(([, count]) => count > 0)
    .sort(([a], [b]) => a - b)
    .map(([status, count]) => `${status}: ${count}`)
    .join(', ');
}

/**
 * Keyed requests so far by outcome (new, replayed, mismatch, in_progress), from
 * idempotency_requests_total: a replay phase whose keys were never recorded would run new charges
 * and look like replays to wrk.
 */
export function idempotencyOutcomes(metricsText: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [, outcome, value] of metricsText.matchAll(/^idempotency_requests_total\{[^}]*\boutcome="(\w+)"[^}]*\} (\d+(?:\.\d+)?)$/gm)) {
    counts.set(outcome!, (counts.get(outcome!) ?? 0) + Number(value));
  }
  return counts;
}
