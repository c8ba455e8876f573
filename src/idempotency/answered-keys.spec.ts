import { AnsweredKeys } from './answered-keys.js';

describe('AnsweredKeys', () => {
  it('knows every key added in this generation and the one before', () => {
    const keys = new AnsweredKeys(1_000);
    for (let i = 0; i < 2_000; i++) keys.add('m', `key-${i}`);
    for (let i = 0; i < 2_000; i++) expect(keys.mayHave('m', `key-${i}`)).toBe(true);
  });

  it('keeps merchants apart', () => {
    const keys = new AnsweredKeys(1_000);
    keys.add('merchant-a', 'k');
    expect(keys.mayHave('merchant-a', 'k')).toBe(true);
    expect(keys.mayHave('merchant-b', 'k')).toBe(false);
    expect(keys.mayHave('merchant-a\nk', '')).toBe(false);
  });

  it('forgets the keys of a generation two generations back: its memory stays fixed', () => {
    const keys = new AnsweredKeys(1_000);
    for (let i = 0; i < 1_000; i++) keys.add('m', `old-${i}`);
    for (let i = 0; i < 2_000; i++) keys.add('m', `new-${i}`);
    const remembered = Array.from({ length: 1_000 }, (_, i) => keys.mayHave('m', `old-${i}`)).filter(Boolean).length;
    expect(remembered).toBeLessThan(10);
  });

  it('answers "maybe" for a key it never saw about once in a thousand, when full', () => {
    const keys = new AnsweredKeys(50_000);
    for (let i = 0; i < 100_000; i++) keys.add('m', `seen-${i}`); // both generations full
    let falseMaybes = 0;
    for (let i = 0; i < 100_000; i++) if (keys.mayHave('m', `never-${i}`)) falseMaybes++;
    expect(falseMaybes / 100_000).toBeLessThan(0.003);
  });
});
