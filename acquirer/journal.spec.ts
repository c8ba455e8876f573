import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Journal } from './journal.js';

describe('the journal', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'journal-spec-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives back on open what was appended, in order, also when appended together', async () => {
    const first = await Journal.open<{ n: number }>(dir);
    expect(first.entries).toEqual([]);
    await Promise.all(Array.from({ length: 50 }, (_, n) => first.journal.append({ n })));
    await first.journal.close();
    const second = await Journal.open<{ n: number }>(dir);
    expect(second.entries).toEqual(Array.from({ length: 50 }, (_, n) => ({ n })));
    await second.journal.close();
  });

  it('drops a last line cut off mid-write, and appends after the last whole one', async () => {
    writeFileSync(path.join(dir, 'journal.ndjson'), '{"n":1}\n{"n":2}\n{"n":');
    const reopened = await Journal.open<{ n: number }>(dir);
    expect(reopened.entries).toEqual([{ n: 1 }, { n: 2 }]);
    await reopened.journal.append({ n: 3 });
    await reopened.journal.close();
    expect(readFileSync(path.join(dir, 'journal.ndjson'), 'utf8')).toBe('{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  it('refuses a damaged line that is not the last', async () => {
    appendFileSync(path.join(dir, 'journal.ndjson'), '{"n":1}\nnot json\n{"n":3}\n');
    await expect(Journal.open(dir)).rejects.toThrow('line 2 is not JSON');
  });
});
