import fc from 'fast-check';
import { canonicalJson } from '../src/idempotency/request-fingerprint.js';
import { batchItems, type Exchange, type Json, parsedBody, RawJson } from './client.js';

/** A request to send: method, path, body. */
export type EdgeRequest = [string, string, unknown];

/** The objects of the fuzz merchant that edge requests act on. */
export interface FuzzObjects {
  account: string;
  authorized: string;
  captured: string;
}

/** Mostly values at the edge of what is valid (so that requests reach SQL), sometimes just past it. */
function edge<T>(valid: fc.Arbitrary<T>, pastTheLimit: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: valid, weight: 9 }, { arbitrary: pastTheLimit, weight: 1 });
}

// null where a value is required: absent-or-valid for optional fields, never a 5xx for any.
const validAmount = fc.oneof(fc.integer({ min: 1, max: 500 }), fc.constantFrom(1, 100_000_000_000));
const amount = edge(validAmount, fc.constantFrom(0, 100_000_000_001, -1, null));

// The Kelvin sign lowercases to an ASCII k: '\u212Arw' is 'krw' once lowercased, a real currency.
const validCurrency = fc.constantFrom('usd', 'USD', 'uSd', '\u212Arw');
const currency = edge(validCurrency, fc.constantFrom(null, '\u212Asd', 'us'));

// Text that is hard on encoders, collations and length checks. Lone surrogates cannot be encoded
// in UTF-8: JSON.stringify writes them as \ud800-style escapes, which is how a client sends them.
const HARD_TEXT = [
  '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 💸', // astral plane
  '👩‍👩‍👧‍👦🏳️‍🌈', // zero-width-joiner sequences
  'e\u0301\u0301\u0301\u0301', // stacked combining marks
  '\u202Ereversed\u202C', // bidi override
  '\uFEFF\u200B', // BOM, zero-width space
  'İıſßﬁ', // case mappings that change length
  '\ud800', // lone high surrogate
  'a\udfffb', // lone low surrogate
  '\udc00\ud800', // a pair the wrong way round
  '\u007f\u0085\u2028\u2029', // controls and line separators
  "'; DROP TABLE charges; --",
  '%s%n%x\\',
];

// Length limits count differently per unit: an astral character is 2 UTF-16 units, a variation
// selector is not counted by the validator, a combining mark is.
const LENGTH_UNITS = ['x', '💸', '❤\uFE0F', 'a\u0301', '\ud800'];

const text = (limit: number) =>
  edge(
    fc.oneof(
      fc.constantFrom(...HARD_TEXT),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.constantFrom(...LENGTH_UNITS).map((unit) => unit.repeat(limit)),
      fc.constant(null),
    ),
    fc.constantFrom(...LENGTH_UNITS).map((unit) => unit.repeat(limit + 1)),
  );

/** Metadata at its limits: `keys` keys of 40 characters holding `valueLength` each. */
const fullMetadata = (keys: number, valueLength: number) =>
  Object.fromEntries(Array.from({ length: keys }, (_, i) => [`${String(i).padStart(2, '0')}${'ķ'.repeat(38)}`, 'é'.repeat(valueLength)]));

const metadata = edge(
  fc.oneof(
    fc.dictionary(
      fc.oneof(
        fc.constantFrom('constructor', 'toString', '💸'.repeat(20), 'k'.repeat(40), 'a.b', '$where'),
        fc.string({ minLength: 1, maxLength: 40 }),
      ),
      fc.oneof(fc.constantFrom(...HARD_TEXT), fc.constant('é'.repeat(500))),
      { maxKeys: 20 },
    ),
    fc.constantFrom(fullMetadata(20, 500), null),
  ),
  fc.constantFrom(fullMetadata(21, 500), fullMetadata(20, 501), { ['k'.repeat(41)]: 'x' }, { '': 'x' }, { k: 1 }),
);

/**
 * Well-formed requests with edge values, drawn from the seed: bodies that pass (or only just fail)
 * validation, so that they reach the handlers and SQL. Any answer but a 5xx is fine; they may take
 * effect, so the caller sends them through the recording client and the checker ties their
 * effects to their answers.
 */
export function edgeValueRequests(objects: FuzzObjects, seed: number, count: number): EdgeRequest[] {
  const source = edge(fc.constant(objects.account), fc.constantFrom('acct_missing', null));
  const chargeFields = { amount, currency, source, capture: edge(fc.boolean(), fc.constant(null)) };
  const charge = fc.record({ ...chargeFields, description: text(500), metadata }, { requiredKeys: ['amount', 'currency', 'source'] });
  // 100 items pass validation only if every one does, and fit the 100 KB body limit only without
  // the largest metadata: valid values, hard text.
  const batchItem = fc.record({
    amount: validAmount,
    currency: validCurrency,
    source: fc.constant(objects.account),
    capture: fc.boolean(),
    description: fc.constantFrom(...HARD_TEXT),
  });
  const account = fc.record({ currency, name: text(200), metadata }, { requiredKeys: ['currency'] });
  const to =
    (method: string, path: string) =>
    (body: unknown): EdgeRequest => [method, path, body];
  const request = fc.oneof(
    account.map(to('POST', '/v1/accounts')),
    fc.tuple(fc.integer({ min: 1, max: 30 }), account).map(([n, body]) => to('PUT', `/v1/accounts/edge-${n}`)(body)),
    fc.record({ amount, description: text(500) }, { requiredKeys: ['amount'] }).map(to('POST', `/v1/accounts/${objects.account}/deposits`)),
    charge.map(to('POST', '/v1/charges')),
    fc
      .oneof(
        fc.array(charge, { minLength: 1, maxLength: 3 }),
        edge(fc.constant(100), fc.constant(101)).chain((n) => fc.array(batchItem, { minLength: Number(n), maxLength: Number(n) })),
      )
      .map((charges) => to('POST', '/v1/charges/batch')({ charges })),
    fc
      .tuple(fc.constantFrom(objects.authorized, objects.captured), fc.record({ amount }, { requiredKeys: [] }))
      .map(([id, body]) => to('POST', `/v1/charges/${id}/capture`)(body)),
    fc
      .tuple(
        fc.constantFrom(objects.captured, objects.authorized),
        fc.record({ amount, reason: edge(fc.constant('duplicate'), fc.constantFrom(null, 'İ')) }),
      )
      .map(([id, body]) => to('POST', `/v1/charges/${id}/refunds`)(body)),
  );
  return [...handWritten(objects), ...fc.sample(request, { seed, numRuns: count })];
}

/** What JSON.stringify never writes: numbers as 1.0 or 1e2, duplicate keys, a __proto__ key. */
function handWritten({ account }: FuzzObjects): EdgeRequest[] {
  const charge = (fields: string) =>
    ['POST', '/v1/charges', new RawJson(`{"currency":"usd","source":"${account}",${fields}}`)] as EdgeRequest;
  return [
    charge('"amount":1.0'),
    charge('"amount":1e2'),
    charge('"amount":100000000000.0000001'),
    charge('"amount":1,"amount":2'),
    charge(String.raw`"amount":3,"description":"\ud800","metadata":{"__proto__":"x","constructor":"\udfff"}`),
    ['POST', '/v1/charges', new RawJson(String.raw`{"amount":1,"currency":"\u212Arw","source":"${account}"}`)],
    ['POST', '/v1/accounts', new RawJson(String.raw`{"currency":"\u212Arw","name":"\ud800\udc00\ud800"}`)],
    ['POST', '/v1/accounts', new RawJson('{"currency":"usd","metadata":{"__proto__":{"polluted":"yes"}}}')],
    ['POST', `/v1/accounts/${account}/deposits`, new RawJson(String.raw`{"amount":1,"description":"\u0000"}`)],
  ];
}

/**
 * A 2xx answer shows the text it was sent, unchanged (no normalisation, no truncation, no lone
 * surrogate turned into U+FFFD): name, description and metadata. Input that cannot be stored as
 * sent must be refused, not changed.
 */
export function echoViolations(exchange: Exchange): string[] {
  const answer = exchange.final;
  const sent = parsedBody(exchange.body) as { charges?: unknown[] } | null;
  if (!answer?.body || answer.status >= 300 || sent === null || typeof sent !== 'object') return [];
  const where = `${exchange.method} ${exchange.path}`;
  if (!Array.isArray(sent.charges)) return textChanges(sent, answer.body, where);
  // A batch: each charge it made shows the text of its own item (one violation per batch).
  const changed = batchItems(answer).flatMap((item) =>
    item.charge ? textChanges(sent.charges![item.index], item.charge, `${where} item ${item.index}`) : [],
  );
  return changed.length === 0 ? [] : [`${changed[0]!}${changed.length > 1 ? ` (and ${changed.length - 1} more items)` : ''}`];
}

function textChanges(sent: unknown, answered: Json, where: string): string[] {
  const violations: string[] = [];
  for (const field of ['name', 'description', 'metadata'] as const) {
    const value = (sent as Record<string, unknown> | undefined)?.[field];
    if (value === undefined || value === null) continue;
    const [expected, actual] = [canonicalJson(value), canonicalJson(answered[field])];
    if (expected !== actual) {
      let at = 0;
      while (expected[at] === actual[at]) at++;
      const around = (json: string) => json.slice(Math.max(0, at - 20), at + 40);
      violations.push(`${where}: sent ${field} …${around(expected)}…, answered …${around(actual)}…`);
    }
  }
  return violations;
}
