import { drawFault, FAULT_KINDS, parseFaults, testCardFault, type FaultKind } from './faults.js';

describe('ACQUIRER_FAULTS', () => {
  it('reads every name', () => {
    const config = parseFaults(
      'seed=42, latency_ms=5-50,timeout=0.1,lost_answer=0.1,error500=0.05,transient503=0.05,decline=0.05,error500_captured=0.25,timeout_ms=900',
    );
    expect(config).toEqual({
      seed: '42',
      latencyMs: { min: 5, max: 50 },
      probability: { timeout: 0.1, transient503: 0.05, error500: 0.05, lost_answer: 0.1, decline: 0.05 },
      error500Captured: 0.25,
      timeoutMs: 900,
    });
  });

  it('means no faults when empty, and a fixed latency when given one number', () => {
    const empty = parseFaults('');
    expect(Object.values(empty.probability).every((p) => p === 0)).toBe(true);
    expect(empty.latencyMs).toEqual({ min: 0, max: 0 });
    expect(parseFaults('latency_ms=20').latencyMs).toEqual({ min: 20, max: 20 });
  });

  it.each([
    ['timeout', 'is not name=value'],
    ['timeout=0.1=2', 'is not name=value'],
    ['timeot=0.1', 'unknown name "timeot"'],
    ['timeout=0.1,timeout=0.2', 'timeout is given twice'],
    ['decline=1.5', 'decline must be a number from 0 to 1'],
    ['decline=-0.1', 'decline must be a number from 0 to 1'],
    ['decline=lots', 'decline must be a number from 0 to 1'],
    ['latency_ms=50-5', 'latency_ms must be'],
    ['latency_ms=fast', 'latency_ms must be'],
    ['timeout_ms=-1', 'timeout_ms must be'],
    ['seed=a b', 'seed must be'],
    ['timeout=0.6,lost_answer=0.5', 'add up to 1.1'],
  ])('refuses %s', (text, message) => {
    expect(() => parseFaults(text)).toThrow(message);
  });
});

describe('drawing a fault', () => {
  const config = parseFaults('seed=7,latency_ms=10-20,timeout=0.2,transient503=0.2,error500=0.2,lost_answer=0.2,decline=0.1');

  it('depends only on the seed, the key and the attempt', () => {
    expect(drawFault(config, 'key-1', 1)).toEqual(
      drawFault(parseFaults('seed=7,latency_ms=10-20,timeout=0.2,transient503=0.2,error500=0.2,lost_answer=0.2,decline=0.1'), 'key-1', 1),
    );
    const draws = (seed: string) =>
      Array.from({ length: 50 }, (_, i) => drawFault({ ...config, seed }, `key-${i % 10}`, 1 + Math.floor(i / 10)));
    expect(draws('7')).toEqual(draws('7'));
    expect(draws('8')).not.toEqual(draws('7'));
  });

  it('draws each fault about as often as its probability, and latency within its range', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) {
      const fault = drawFault(config, `key-${i}`, 1);
      counts[fault.kind] = (counts[fault.kind] ?? 0) + 1;
      expect(fault.latencyMs).toBeGreaterThanOrEqual(10);
      expect(fault.latencyMs).toBeLessThanOrEqual(20);
    }
    for (const kind of ['timeout', 'transient503', 'error500', 'lost_answer'] as FaultKind[]) expect(counts[kind]).toBeGreaterThan(1_800);
    expect(counts.decline).toBeGreaterThan(800);
    expect(counts.none).toBeGreaterThan(800);
  });

  it('gives a retry of the same key a draw of its own', () => {
    const kinds = new Set(Array.from({ length: 20 }, (_, attempt) => drawFault(config, 'one-key', attempt + 1).kind));
    expect(kinds.size).toBeGreaterThan(1);
  });

  it('draws nothing without faults', () => {
    const none = parseFaults('seed=1');
    for (let i = 0; i < 100; i++) expect(drawFault(none, `k${i}`, 1)).toMatchObject({ kind: 'none', latencyMs: 0 });
  });

  it('splits 500s into captured and not by error500_captured', () => {
    const all500 = parseFaults('error500=1,error500_captured=0.5');
    const captured = Array.from({ length: 1000 }, (_, i) => drawFault(all500, `k${i}`, 1).captured).filter(Boolean).length;
    expect(captured).toBeGreaterThan(400);
    expect(captured).toBeLessThan(600);
    expect(drawFault(parseFaults('error500=1,error500_captured=0'), 'k', 1).captured).toBe(false);
  });
});

describe('test cards', () => {
  it.each([
    ['pm_test_ok', { kind: 'none', latencyMs: 0 }],
    ['pm_test_decline_insufficient_funds', { kind: 'decline', declineCode: 'insufficient_funds' }],
    ['pm_test_timeout', { kind: 'timeout' }],
    ['pm_test_transient_503', { kind: 'transient503' }],
    ['pm_test_500', { kind: 'error500', captured: false }],
    ['pm_test_500_captured', { kind: 'error500', captured: true }],
    ['pm_test_lost_answer', { kind: 'lost_answer' }],
    ['pm_test_slow_1500', { kind: 'none', latencyMs: 1500 }],
  ])('%s forces its fault on every attempt', (card, fault) => {
    expect(testCardFault(card, 1)).toMatchObject(fault);
    expect(testCardFault(card, 5)).toMatchObject(fault);
  });

  it('with _once, on the first attempt only', () => {
    expect(testCardFault('pm_test_lost_answer_once', 1)).toMatchObject({ kind: 'lost_answer' });
    expect(testCardFault('pm_test_lost_answer_once', 2)).toMatchObject({ kind: 'none' });
    expect(testCardFault('pm_test_timeout_once', 2)).toMatchObject({ kind: 'none' });
  });

  it('knows no other test card, and leaves other payment methods to the draw', () => {
    expect(testCardFault('pm_test_bogus', 1)).toBeUndefined();
    expect(testCardFault('pm_test_slow_', 1)).toBeUndefined();
    expect(testCardFault('pm_card_visa', 1)).toBeUndefined();
    expect(testCardFault('ok', 1)).toBeUndefined();
  });

  it('covers every fault kind', () => {
    const forced = ['pm_test_timeout', 'pm_test_transient_503', 'pm_test_500', 'pm_test_lost_answer', 'pm_test_decline_x'].map(
      (card) => testCardFault(card, 1)?.kind,
    );
    expect(new Set(forced)).toEqual(new Set(FAULT_KINDS));
  });
});
