/**
 * The metric names and label names a PromQL expression uses, found by a small tokenizer (enough for
 * the rules and the dashboard: selectors, functions, aggregations with by/without, binary operators
 * with on/ignoring). promtool parses the expressions; this says which series they name, so a test
 * can hold them to what the service exports.
 */
export interface PromqlNames {
  /** Each selector: its metric name and the label names of its matchers. */
  selectors: { metric: string; labels: string[] }[];
  /** Label names of by (…), without (…), on (…), ignoring (…), group_left (…), group_right (…). */
  grouping: string[];
}

const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2']);
/** Aggregations, whose by/without clause may come before their arguments: sum by (job) (…). */
const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);
const IDENTIFIER = /[A-Za-z_:][A-Za-z0-9_:]*/y;

export function promqlNames(expr: string): PromqlNames {
  const names: PromqlNames = { selectors: [], grouping: [] };
  let at = 0;
  const skipSpace = () => {
    while (at < expr.length && /\s/.test(expr[at]!)) at++;
  };
  const skipString = () => {
    const quote = expr[at]!;
    at++;
    while (at < expr.length && expr[at] !== quote) at += expr[at] === '\\' ? 2 : 1;
    at++;
  };
  const identifier = (): string | undefined => {
    IDENTIFIER.lastIndex = at;
    const match = IDENTIFIER.exec(expr);
    if (!match) return undefined;
    at += match[0].length;
    return match[0];
  };
  /** A parenthesised list of label names: by (job, le). */
  const labelList = (): string[] => {
    const labels: string[] = [];
    at++; // (
    for (;;) {
      skipSpace();
      if (expr[at] === ')') break;
      const label = identifier();
      if (label === undefined) throw new Error(`a label name expected at ${at} in: ${expr}`);
      labels.push(label);
      skipSpace();
      if (expr[at] === ',') at++;
    }
    at++; // )
    return labels;
  };
  /** A selector's matchers: {job="x", route=~"/v1/.+"}. */
  const matchers = (): string[] => {
    const labels: string[] = [];
    at++; // {
    for (;;) {
      skipSpace();
      if (expr[at] === '}') break;
      const label = identifier();
      if (label === undefined) throw new Error(`a label name expected at ${at} in: ${expr}`);
      labels.push(label);
      skipSpace();
      while (/[=!~]/.test(expr[at]!)) at++;
      skipSpace();
      if (expr[at] !== '"' && expr[at] !== "'") throw new Error(`a label value expected at ${at} in: ${expr}`);
      skipString();
      skipSpace();
      if (expr[at] === ',') at++;
    }
    at++; // }
    return labels;
  };

  while (at < expr.length) {
    const char = expr[at]!;
    if (char === '"' || char === "'") skipString();
    else if (char === '[') at = expr.indexOf(']', at) + 1;
    else if (/[0-9.]/.test(char)) {
      // A number (14.4, 1e6), or a duration after offset.
      while (at < expr.length && /[0-9.a-zA-Z]/.test(expr[at]!)) at++;
    } else if (char === '{') names.selectors.push({ metric: '', labels: matchers() });
    else if (/[A-Za-z_:]/.test(char)) {
      const word = identifier()!;
      skipSpace();
      if (GROUPING.has(word)) {
        if (expr[at] === '(') names.grouping.push(...labelList());
      } else if (KEYWORDS.has(word) || AGGREGATIONS.has(word) || expr[at] === '(') {
        // an operator, or a function or aggregation: its arguments are scanned as they come
      } else {
        names.selectors.push({ metric: word, labels: expr[at] === '{' ? matchers() : [] });
      }
    } else at++;
  }
  return names;
}
