import { mkdir, open, readFile, truncate, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

// The acquirer's durable store: one JSON line per request, appended and fsynced before the answer
// leaves, replayed on start. Requests that arrive together share one fsync.

interface Pending {
  line: string;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class Journal<Entry> {
  private pending: Pending[] = [];
  private writing = false;

  private constructor(private readonly file: FileHandle) {}

  /**
   * Opens `dir`/journal.ndjson, creating it when missing, and reads every entry in it. A last line
   * without its newline is what a crash cut off mid-write: its request was never answered, so it
   * is dropped.
   */
  static async open<Entry>(dir: string): Promise<{ journal: Journal<Entry>; entries: Entry[] }> {
    await mkdir(dir, { recursive: true });
    const filePath = path.join(dir, 'journal.ndjson');
    const text = await readFile(filePath, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return '';
      throw error;
    });
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    if (complete.length < text.length) await truncate(filePath, Buffer.byteLength(complete));
    const entries = complete
      .split('\n')
      .filter((line) => line !== '')
      .map((line, index) => {
        try {
          return JSON.parse(line) as Entry;
        } catch {
          throw new Error(`${filePath}: line ${index + 1} is not JSON`);
        }
      });
    const file = await open(filePath, 'a');
    await syncDirectory(dir); // the file's name is durable too
    return { journal: new Journal<Entry>(file), entries };
  }

  /** Resolves once `entry` is on disk. */
  append(entry: Entry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ line: `${JSON.stringify(entry)}\n`, resolve, reject });
      if (!this.writing) void this.writePending();
    });
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  private async writePending(): Promise<void> {
    this.writing = true;
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        await this.file.appendFile(batch.map((pending) => pending.line).join(''));
        await this.file.datasync();
        for (const pending of batch) pending.resolve();
      } catch (error) {
        for (const pending of batch) pending.reject(error);
      }
    }
    this.writing = false;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
