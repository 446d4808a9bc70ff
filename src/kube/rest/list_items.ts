/**
 * Splits the JSON of a Kubernetes list (`{"kind":…,"metadata":{…},"items":[{…},{…}]}`) into the
 * text of each item as the response arrives, so that each item is parsed on its own and can be
 * reduced at once. Parsing a whole page (500 pods, some 6 MB) makes every one of its objects live
 * until the page is done: past a small young generation they are all promoted, and the old
 * generation is collected again and again during a large list. An item parsed alone dies young.
 *
 * What is not an element of the top-level `items` array (kind, apiVersion, metadata with its
 * continue token and resourceVersion) is kept as the envelope: the same JSON with `"items":[]`.
 *
 * Only the structure is scanned (strings skipped with indexOf, nesting counted); the items' JSON
 * is left to JSON.parse, so malformed JSON inside an item fails there. An element of `items` that
 * is not an object (the API server sends none) is left out.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const ITEMS_KEY = /"items"\s*:\s*$/;

export class ListItemSplitter {
  private readonly onItem: (text: string) => void;
  private readonly onItemsStart: ((envelope: string) => void) | undefined;
  private depth = 0;
  private inString = false;
  /** The next character (the first of the next chunk) is escaped by a backslash. */
  private escaped = false;
  private inItems = false;
  /** The start of the item in progress in the current chunk (-1: none); its text of earlier chunks in `pending`. */
  private itemStart = -1;
  private pending = '';
  private envelope = '';
  /** Where the envelope's text starts in the current chunk (-1: inside the items). */
  private keepFrom = 0;

  /** `onItemsStart` gets the envelope read so far when the items begin (`{…,"items":[`). */
  constructor(onItem: (text: string) => void, onItemsStart?: (envelope: string) => void) {
    this.onItem = onItem;
    this.onItemsStart = onItemsStart;
  }

  /** Scans one chunk of the response; calls `onItem` for every item it completes. */
  push(chunk: string): void {
    this.keepFrom = this.inItems ? -1 : 0;
    if (this.itemStart >= 0) this.itemStart = 0;
    for (let i = 0; i < chunk.length;) i = this.inString ? this.skipString(chunk, i) : this.structure(chunk, i);
    if (this.keepFrom >= 0) this.envelope += chunk.slice(this.keepFrom);
    if (this.itemStart >= 0) this.pending += chunk.slice(this.itemStart);
  }

  /** The list without its items (`"items":[]`); throws if the response ended inside the JSON. */
  end(): string {
    if (this.depth !== 0 || this.inString) throw new Error('the list response ended before its JSON did');
    return this.envelope;
  }

  /** One character outside strings at `i`; returns the next index. */
  private structure(chunk: string, i: number): number {
    const c = chunk.charCodeAt(i);
    if (c === QUOTE) this.inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.open(chunk, i, c);
    else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) this.close(chunk, i, c);
    return i + 1;
  }

  private open(chunk: string, i: number, c: number): void {
    if (this.inItems) {
      if (this.depth === 2 && c === OPEN_BRACE) this.itemStart = i;
    } else if (this.depth === 1 && c === OPEN_BRACKET && this.startsItems(chunk, i)) {
      this.envelope += chunk.slice(this.keepFrom, i + 1);
      this.keepFrom = -1;
      this.inItems = true;
      this.onItemsStart?.(this.envelope);
    }
    this.depth++;
  }

  private close(chunk: string, i: number, c: number): void {
    this.depth--;
    if (!this.inItems) return;
    if (this.depth === 2 && c === CLOSE_BRACE && this.itemStart >= 0) this.emit(chunk, i);
    else if (this.depth === 1) {
      this.inItems = false;
      this.keepFrom = i; // the closing bracket: the envelope reads "items":[]
    }
  }

  /** Whether the `[` at `at` opens the top-level `items`. */
  private startsItems(chunk: string, at: number): boolean {
    return ITEMS_KEY.test(this.envelope.slice(-64) + chunk.slice(Math.max(this.keepFrom, at - 64), at));
  }

  private emit(chunk: string, end: number): void {
    const text = this.pending + chunk.slice(this.itemStart, end + 1);
    this.pending = '';
    this.itemStart = -1;
    this.onItem(text);
  }

  /** From `i` inside a string: the index after its closing quote, or the chunk's length. */
  private skipString(chunk: string, i: number): number {
    let from = i;
    if (this.escaped) {
      this.escaped = false;
      from++;
    }
    for (;;) {
      const q = chunk.indexOf('"', from);
      if (q < 0) {
        this.escaped = backslashesBefore(chunk, chunk.length, from) % 2 === 1;
        return chunk.length;
      }
      if (backslashesBefore(chunk, q, from) % 2 === 0) {
        this.inString = false;
        return q + 1;
      }
      from = q + 1;
    }
  }
}

/** How many backslashes end `chunk` just before `at`, not looking before `from`. */
function backslashesBefore(chunk: string, at: number, from: number): number {
  let k = 0;
  while (at - k - 1 >= from && chunk.charCodeAt(at - k - 1) === BACKSLASH) k++;
  return k;
}
