import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { findBinary, missingBinaryMessage } from '../testing/system-binaries.js';
import { alertRules, ruleFiles } from '../testing/prometheus-rules.js';

// The alert and recording rules of deploy/prometheus, checked and unit-tested by promtool (Debian's
// `prometheus` package; .ci/run installs it), and held to the house's rules for alerts: every alert
// has a test that it fires and one that it stays silent, and a runbook section its runbook_url names.

const PROMETHEUS = 'deploy/prometheus';
const PROMTOOL = findBinary('promtool');
const ruleTests = readdirSync(path.join(PROMETHEUS, 'tests'))
  .filter((name) => name.endsWith('.yml'))
  .map((name) => path.join(PROMETHEUS, 'tests', name));

function promtool(...args: string[]): string {
  try {
    return execFileSync(PROMTOOL!, args, { encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`promtool ${args.join(' ')} failed:\n${failed.stdout ?? ''}${failed.stderr ?? ''}`);
  }
}

interface AlertRuleTest {
  alertname: string;
  exp_alerts?: { exp_labels?: Record<string, string> }[];
}
interface RuleTestGroup {
  input_series?: { series: string }[];
  alert_rule_test?: AlertRuleTest[];
}

if (PROMTOOL === undefined) {
  describe('the alert rules under promtool', () => {
    it('promtool is installed (the run fails without it, unless SKIP_PROMETHEUS_TESTS=1 says to go without)', () => {
      const message = missingBinaryMessage(['promtool'], 'apt-get install -y prometheus', 'SKIP_PROMETHEUS_TESTS', 'The alert rule tests');
      if (message !== undefined) throw new Error(message);
    });
  });
} else {
  describe('the alert rules under promtool', () => {
    it('parse (promtool check rules)', () => {
      expect(promtool('check', 'rules', ...ruleFiles())).toContain('SUCCESS');
    });

    it('pass their unit tests (promtool test rules)', () => {
      expect(promtool('test', 'rules', ...ruleTests)).toContain('SUCCESS');
    });

    it('are loaded by the compose fleet’s Prometheus, whose configuration is valid (promtool check config)', () => {
      expect(promtool('check', 'config', path.join(PROMETHEUS, 'prometheus.yml'))).toContain('SUCCESS');
    });
  });
}

describe('every alert', () => {
  const groups = ruleTests.flatMap((file) => (parse(readFileSync(file, 'utf8')) as { tests: RuleTestGroup[] }).tests);

  it.each(alertRules().map((rule) => rule.alert))('%s has a test where it fires and one where it stays silent', (alert) => {
    let fires = false;
    let silent = false;
    for (const group of groups) {
      // A job of the group's input that a case does not expect to alert is one it must leave alone.
      const jobs = new Set((group.input_series ?? []).map((input) => /job="([^"]+)"/.exec(input.series)?.[1]));
      for (const test of (group.alert_rule_test ?? []).filter((candidate) => candidate.alertname === alert)) {
        const expected = test.exp_alerts ?? [];
        if (expected.length > 0) fires = true;
        const alerted = new Set(expected.map((firing) => firing.exp_labels?.job));
        if (expected.length === 0 || [...jobs].some((job) => !alerted.has(job))) silent = true;
      }
    }
    expect({ alert, fires, silent }).toEqual({ alert, fires: true, silent: true });
  });

  it.each(alertRules().map((rule) => [rule.alert, rule]))('%s links to its section of docs/runbook.md', (_alert, rule) => {
    const headings = readFileSync('docs/runbook.md', 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('#'))
      .map((line) => line.replace(/^#+\s*/, '').trim());
    expect(headings).toContain(rule.alert);
    expect(rule.annotations?.runbook_url).toBe(`docs/runbook.md#${rule.alert.toLowerCase()}`);
    expect(rule.labels?.severity).toMatch(/^(page|ticket)$/);
  });
});

describe('Prometheus in the compose fleet', () => {
  it('scrapes every replica of docker-compose.yml, with the rules of deploy/prometheus', () => {
    const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<string, { profiles?: string[]; volumes?: string[]; command?: string[] }>;
    };
    const config = parse(readFileSync(path.join(PROMETHEUS, 'prometheus.yml'), 'utf8')) as {
      rule_files: string[];
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    const replicas = Object.keys(compose.services).filter((name) => /^api-\d$/.test(name));
    const payments = config.scrape_configs.find((scrape) => scrape.job_name === 'payments')!;
    expect(payments.static_configs.flatMap((targets) => targets.targets).sort()).toEqual(replicas.map((name) => `${name}:3000`).sort());
    expect(config.rule_files).toEqual(['rules/*.rules.yml']);
    const prometheus = compose.services.prometheus!;
    expect(prometheus.profiles).toEqual(['fleet']);
    expect(prometheus.volumes).toContain('./deploy/prometheus:/etc/prometheus/payments:ro');
    expect(prometheus.command).toContain('--config.file=/etc/prometheus/payments/prometheus.yml');
  });
});
