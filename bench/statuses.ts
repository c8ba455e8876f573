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
