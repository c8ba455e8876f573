import type { Page } from './models.js';

/**
 * A list read page by page, newest first, each page fetched when the iteration reaches it:
 * `for await (const charge of list)` for the objects, `for await (const page of list.pages())` for
 * the pages. The cursor is the last object's id (`starting_after`).
 */
export class Paginated<T extends { id: string }> implements AsyncIterable<T> {
  constructor(
    private readonly fetchPage: (startingAfter: string | undefined) => Promise<Page<T>>,
    private readonly startingAfter?: string,
  ) {}

  async *pages(): AsyncGenerator<Page<T>, void, undefined> {
    let cursor = this.startingAfter;
    for (;;) {
      const page = await this.fetchPage(cursor);
      yield page;
      const last = page.data.at(-1);
      if (!page.has_more || last === undefined) return;
      cursor = last.id;
    }
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for await (const page of this.pages()) yield* page.data;
  }

  /** Every object of the list in one array (reads every page). */
  async all(): Promise<T[]> {
    const items: T[] = [];
    for await (const item of this) items.push(item);
    return items;
  }
}
