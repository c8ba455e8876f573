import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** One rule of a Prometheus rule file: an alert or a recording rule. */
export interface PrometheusRule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const RULES = 'deploy/prometheus/rules';

/** The rule files of deploy/prometheus/rules. */
export function ruleFiles(): string[] {
  return readdirSync(RULES)
    .filter((name) => name.endsWith('.rules.yml'))
    .map((name) => path.join(RULES, name));
}

/** Every rule of every rule file. */
export function prometheusRules(): PrometheusRule[] {
  return ruleFiles().flatMap((file) =>
    (parse(readFileSync(file, 'utf8')) as { groups: { rules: PrometheusRule[] }[] }).groups.flatMap((group) => group.rules),
  );
}

/** The alerting rules. */
export function alertRules(): (PrometheusRule & { alert: string })[] {
  return prometheusRules().filter((rule): rule is PrometheusRule & { alert: string } => rule.alert !== undefined);
}
