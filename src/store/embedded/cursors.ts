import { randomBytes } from "node:crypto";
import { BSON, type Document } from "bson";
import { CommandError } from "./errors.js";
import { RawDocument } from "./raw-doc.js";

/**
 * Open cursors: the rest of a result set and how to render it, handed out batch by batch.
 * Results are computed when the cursor opens (stored documents are immutable, so this is a
 * consistent snapshot); rendering (projection, type restoration) happens per batch.
 */

export const DEFAULT_FIRST_BATCH = 101;
/** Leaves room for the reply envelope so a batch always fits in maxBsonObjectSize. */
const MAX_BSON_SIZE = 16 * 1024 * 1024;
const MAX_BATCH_BYTES = MAX_BSON_SIZE - 64 * 1024;
/** mongod's default cursorTimeoutMillis: idle cursors die after 10 minutes. */
export const CURSOR_TIMEOUT_MS = 10 * 60 * 1000;

interface OpenCursor {
  readonly ns: string;
  readonly items: readonly unknown[];
  readonly render: (item: unknown) => Document;
  position: number;
  lastUsed: number;
  readonly noTimeout: boolean;
}

export interface Batch {
  readonly id: bigint;
  readonly batch: Document[];
}

export interface CursorRegistry {
  /** Returns the first batch; registers a cursor only if results remain. */
  open<T>(
    ns: string,
    items: readonly T[],
    render: (item: T) => Document,
    options: { batchSize?: number; singleBatch?: boolean; noTimeout?: boolean },
  ): Batch;
  getMore(id: bigint, ns: string, batchSize: number | undefined): Batch;
  has(id: bigint): boolean;
  nsOf(id: bigint): string | undefined;
  kill(id: bigint): boolean;
  /** Drops cursors idle for longer than the timeout; returns how many. */
  reap(): number;
  readonly size: number;
  clear(): void;
}

function newCursorId(taken: Map<bigint, unknown>): bigint {
  for (;;) {
    const id = randomBytes(8).readBigInt64LE() & 0x7fffffffffffffffn;
    if (id !== 0n && !taken.has(id)) return id;
  }
}

function takeBatch(cursor: OpenCursor, limit: number): Document[] {
  const batch: Document[] = [];
  let bytes = 0;
  while (cursor.position < cursor.items.length && batch.length < limit) {
    const doc = cursor.render(cursor.items[cursor.position]);
    const size =
      doc instanceof RawDocument
        ? doc.bytes.length
        : BSON.calculateObjectSize(doc, { ignoreUndefined: true });
    if (size > MAX_BSON_SIZE) {
      throw new CommandError(
        10334,
        `BSONObj size: ${size} (0x${size.toString(16)}) is invalid. Size must be between 0 and 16793600(16MB)`,
      );
    }
    if (batch.length > 0 && bytes + size > MAX_BATCH_BYTES) break;
    batch.push(doc);
    bytes += size;
    cursor.position++;
  }
  return batch;
}

export function createCursorRegistry(
  now: () => Date,
  timeoutMs: () => number = () => CURSOR_TIMEOUT_MS,
): CursorRegistry {
  const cursors = new Map<bigint, OpenCursor>();
  const clock = () => now().getTime();
  return {
    open(ns, items, render, { batchSize, singleBatch, noTimeout }) {
      const cursor: OpenCursor = {
        ns,
        items,
        render: render as (item: unknown) => Document,
        position: 0,
        lastUsed: clock(),
        noTimeout: noTimeout === true,
      };
      const batch = takeBatch(cursor, batchSize ?? DEFAULT_FIRST_BATCH);
      if (singleBatch || cursor.position >= items.length) return { id: 0n, batch };
      const id = newCursorId(cursors);
      cursors.set(id, cursor);
      return { id, batch };
    },
    getMore(id, ns, batchSize) {
      const cursor = cursors.get(id);
      if (!cursor || cursor.ns !== ns) throw new Error("cursor not found");
      cursor.lastUsed = clock();
      const batch = takeBatch(cursor, batchSize && batchSize > 0 ? batchSize : Infinity);
      if (cursor.position >= cursor.items.length) {
        cursors.delete(id);
        return { id: 0n, batch };
      }
      return { id, batch };
    },
    has: (id) => cursors.has(id),
    nsOf: (id) => cursors.get(id)?.ns,
    kill: (id) => cursors.delete(id),
    reap() {
      const cutoff = clock() - timeoutMs();
      let n = 0;
      for (const [id, c] of cursors) {
        if (!c.noTimeout && c.lastUsed < cutoff) {
          cursors.delete(id);
          n++;
        }
      }
      return n;
    },
    get size() {
      return cursors.size;
    },
    clear: () => cursors.clear(),
  };
}
