import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { stringify } from 'yaml';
import { LedgerCheckService } from '../src/ledger/ledger-check.service.js';
import { AcquirerProcess } from '../testing/acquirer-process.js';
import { prometheusRules } from '../testing/prometheus-rules.js';
import { promqlNames } from '../testing/promql-names.js';
import { findBinary, missingBinaryMessage } from '../testing/system-binaries.js';
import { MerchantClient, TestApp } from './support/test-app.js';

// Every query of the dashboard (deploy/grafana) and of the rules (deploy/prometheus) names only
// metrics, and labels, that a running service exports: a renamed metric or label fails here instead
// of leaving a panel empty or an alert that can never fire. The service is driven until every
// metric the queries use has a sample (a charge, a replay, a card charge through the simulated
// acquirer, a 503 from a lock timeout, a ledger check), then /metrics is read.

interface Dashboard {
  panels: { title: string; targets?: { expr: string }[] }[];
  annotations: { list: { expr?: string }[] };
}

const dashboard = JSON.parse(readFileSync('deploy/grafana/payments.json', 'utf8')) as Dashboard;
const dashboardQueries = [
  ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => ({ where: `panel "${panel.title}"`, expr: target.expr }))),
  ...dashboard.annotations.list.flatMap((annotation) => (annotation.expr ? [{ where: 'annotation', expr: annotation.expr }] : [])),
];
/** Grafana's variables, as Prometheus would see them once Grafana filled them in. */
const asPrometheusSees = (expr: string) => expr.replaceAll('$__rate_interval', '5m').replaceAll('$job', 'payments');

const rules = prometheusRules();
const recorded = new Set(rules.flatMap((rule) => (rule.record ? [rule.record] : [])));
const ruleQueries = rules.map((rule) => ({ where: `rule ${rule.alert ?? rule.record}`, expr: rule.expr }));

/** Series Prometheus makes itself, with their labels. */
const PROMETHEUS_OWN: Record<string, string[]> = { up: [], ALERTS: ['alertname', 'alertstate', 'severity', 'slo'] };
/** Labels every scraped series gets from Prometheus. */
const TARGET_LABELS = ['job', 'instance'];

/** Each exported series name (a histogram's _bucket, _sum, _count) with the label names of its samples. */
function exportedSeries(exposition: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of exposition.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!match) throw new Error(`not an exposition line: ${line}`);
    const labels = series.get(match[1]!) ?? new Set<string>();
    for (const pair of (match[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="/g)) labels.add(pair[1]!);
    series.set(match[1]!, labels);
  }
  return series;
}

/** What is wrong with a query's names, against the exported series: nothing when it holds. */
function unknownNames(expr: string, exported: Map<string, Set<string>>): string[] {
  const names = promqlNames(asPrometheusSees(expr));
  const problems: string[] = [];
  const labelsOf = (metric: string): Set<string> | undefined => {
    if (recorded.has(metric)) return new Set(TARGET_LABELS);
    if (PROMETHEUS_OWN[metric]) return new Set([...TARGET_LABELS, ...PROMETHEUS_OWN[metric]]);
    const labels = exported.get(metric);
    return labels && new Set([...TARGET_LABELS, ...labels]);
  };
  const usable = new Set<string>();
  for (const selector of names.selectors) {
    const labels = labelsOf(selector.metric);
    if (!labels) {
      problems.push(`metric ${selector.metric || '(none)'} is not exported`);
      continue;
    }
    for (const label of labels) usable.add(label);
    for (const label of selector.labels) if (!labels.has(label)) problems.push(`${selector.metric} has no label ${label}`);
  }
  for (const label of names.grouping) if (!usable.has(label)) problems.push(`no metric of the query has the label ${label} it groups by`);
  return problems;
}

describe('the dashboard and the rules name what the service exports', () => {
  let acquirer: AcquirerProcess;
  let app: TestApp;
  let merchant: MerchantClient;
  let exported: Map<string, Set<string>>;

  beforeAll(async () => {
    acquirer = await AcquirerProcess.start();
    app = await TestApp.start({ acquirerUrl: acquirer.url });
    merchant = await app.merchant('observability');
    const source = await merchant.account(1_000);
    // A charge, its replay, the key reused for another request, a refusal.
    expect((await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source }, 'observed')).status).toBe(201);
    expect((await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source }, 'observed')).status).toBe(201);
    expect((await merchant.post('/v1/charges', { amount: 11, currency: 'usd', source }, 'observed')).status).toBe(422);
    expect((await merchant.post('/v1/charges', { amount: 10_000, currency: 'usd', source })).status).toBe(402);
    // A card charge through the acquirer.
    expect((await merchant.post('/v1/charges', { amount: 10, currency: 'usd', payment_method: 'pm_test_ok' })).status).toBe(201);
    // A 503 from the database: the account's row locked by another session until lock_timeout.
    const holder = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT 1 FROM accounts WHERE merchant_id = $1 AND id = $2 FOR UPDATE', [merchant.id, source]);
      expect((await merchant.post('/v1/charges', { amount: 10, currency: 'usd', source })).status).toBe(503);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    // The ledger check, run here (another file's run may hold it: then this one waits for a turn).
    while ((await app.app.get(LedgerCheckService).runOnce()) === undefined) await new Promise((resolve) => setImmediate(resolve));
    const scrape = await app.request('GET', '/metrics');
    expect(scrape.status).toBe(200);
    exported = exportedSeries(scrape.text);
  });

  afterAll(async () => {
    await app.close();
    await acquirer.close();
  });

  it('finds the names of a query (the tokenizer the checks below rely on)', () => {
    expect(
      promqlNames(
        'sum by (job, le) (rate(http_request_duration_seconds_bucket{method="POST", route=~"/v1/.+"}[5m])) / on (job) group_left up > bool 14.4 * 1e6 offset 5m',
      ),
    ).toEqual({
      selectors: [
        { metric: 'http_request_duration_seconds_bucket', labels: ['method', 'route'] },
        { metric: 'up', labels: [] },
      ],
      grouping: ['job', 'le', 'job'],
    });
    expect(unknownNames('rate(http_requests_totl[5m])', exported)).toEqual(['metric http_requests_totl is not exported']);
    expect(unknownNames('http_requests_total{statuss="500"}', exported)).toEqual(['http_requests_total has no label statuss']);
    expect(unknownNames('sum by (outcome) (http_requests_total)', exported)).toEqual([
      'no metric of the query has the label outcome it groups by',
    ]);
  });

  it.each(dashboardQueries.map((query) => [query.where, query.expr]))('dashboard, %s: %s', (_where, expr) => {
    expect(unknownNames(expr, exported)).toEqual([]);
  });

  it.each(ruleQueries.map((query) => [query.where, query.expr]))('%s: %s', (_where, expr) => {
    expect(unknownNames(expr, exported)).toEqual([]);
  });

  const promtool = findBinary('promtool');
  it('every dashboard query parses (promtool check rules, each as a recording rule)', () => {
    if (promtool === undefined) {
      const message = missingBinaryMessage(
        ['promtool'],
        'apt-get install -y prometheus',
        'SKIP_PROMETHEUS_TESTS',
        'The dashboard query check',
      );
      if (message !== undefined) throw new Error(message);
      return;
    }
    const folder = mkdtempSync(path.join(tmpdir(), 'dashboard-queries-'));
    try {
      const file = path.join(folder, 'dashboard.rules.yml');
      const rules = dashboardQueries.map((query, index) => ({ record: `dashboard:query:${index}`, expr: asPrometheusSees(query.expr) }));
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
      expect(execFileSync(promtool, ['check', 'rules', file], { encoding: 'utf8' })).toContain(`SUCCESS: ${rules.length} rules found`);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
