import { answersByStatus, failedAnswersBetween, idempotencyOutcomes } from '../bench/statuses.js';

// The bench says which statuses a phase's failed answers had, from the service's /metrics text.
describe('bench failed answers by status', () => {
  const metrics = (put409: number, post201: number) => `# HELP http_requests_total Requests by method, route and status.
# TYPE http_requests_total counter
http_requests_total{method="POST",route="/v1/charges",status="201"} ${post201}
http_requests_total{method="PUT",route="/v1/accounts/:id",status="409"} ${put409}
http_requests_total{method="POST",route="/v1/charges",status="409"} 3
http_request_duration_seconds_count{method="PUT",route="/v1/accounts/:id",status="500"} 7
`;

  it('sums every route of a status, and reads nothing but http_requests_total', () => {
    expect(answersByStatus(metrics(5, 10))).toEqual(
      new Map([
        [201, 10],
        [409, 8],
      ]),
    );
  });

  it('names the statuses of 400 and above that grew between two readings', () => {
    expect(failedAnswersBetween(answersByStatus(metrics(5, 10)), answersByStatus(metrics(25, 90)))).toBe('409: 20');
    expect(failedAnswersBetween(answersByStatus(metrics(5, 10)), answersByStatus(metrics(5, 90)))).toBe('');
    expect(
      failedAnswersBetween(
        new Map(),
        new Map([
          [503, 2],
          [422, 1],
        ]),
      ),
    ).toBe('422: 1, 503: 2');
  });
});

describe('bench keyed requests by outcome', () => {
  it('sums idempotency_requests_total by outcome, so that a replay phase can count the replays that ran as new', () => {
    const text = `# TYPE idempotency_requests_total counter
idempotency_requests_total{outcome="new"} 120
idempotency_requests_total{outcome="replayed"} 4000
idempotency_requests_total_created{outcome="new"} 17000000
http_requests_total{method="POST",route="/v1/charges",status="201"} 4120
`;
    expect(idempotencyOutcomes(text)).toEqual(
      new Map([
        ['new', 120],
        ['replayed', 4000],
      ]),
    );
  });
});
