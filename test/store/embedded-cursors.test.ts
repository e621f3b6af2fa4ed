import { describe, expect, it } from "vitest";
import { CURSOR_TIMEOUT_MS, createCursorRegistry } from "../../src/store/embedded/cursors.js";

describe("cursor registry", () => {
  const docs = Array.from({ length: 250 }, (_, i) => ({ _id: i }));

  it("first batch of 101 by default, then getMore batches by batchSize, ids as int64", () => {
    const cursors = createCursorRegistry(() => new Date());
    const first = cursors.open("db.c", docs, (d) => d, {});
    expect(first.batch).toHaveLength(101);
    expect(typeof first.id).toBe("bigint");
    expect(first.id > 0n).toBe(true);
    const second = cursors.getMore(first.id, "db.c", 100);
    expect(second.batch.map((d) => d._id)).toEqual(docs.slice(101, 201).map((d) => d._id));
    const last = cursors.getMore(first.id, "db.c", undefined);
    expect(last.batch).toHaveLength(49);
    expect(last.id).toBe(0n);
    expect(cursors.has(first.id)).toBe(false);
  });

  it("an exhausted or single-batch result registers no cursor", () => {
    const cursors = createCursorRegistry(() => new Date());
    expect(cursors.open("db.c", docs.slice(0, 5), (d) => d, {}).id).toBe(0n);
    expect(cursors.open("db.c", docs, (d) => d, { batchSize: 10, singleBatch: true }).id).toBe(0n);
    expect(cursors.size).toBe(0);
  });

  it("keeps every batch under 16 MiB", () => {
    const big = "x".repeat(1024 * 1024);
    const rows = Array.from({ length: 40 }, (_, i) => ({ _id: i, big }));
    const cursors = createCursorRegistry(() => new Date());
    const first = cursors.open("db.c", rows, (d) => d, { batchSize: 1000 });
    expect(first.batch.length).toBeGreaterThan(1);
    expect(first.batch.length).toBeLessThan(16);
    const next = cursors.getMore(first.id, "db.c", undefined);
    expect(next.batch.length).toBeLessThan(16);
  });

  it("reaps cursors idle for longer than the timeout, by the injected clock", () => {
    let now = 0;
    const cursors = createCursorRegistry(() => new Date(now));
    const idle = cursors.open("db.c", docs, (d) => d, { batchSize: 1 }).id;
    const pinned = cursors.open("db.c", docs, (d) => d, { batchSize: 1, noTimeout: true }).id;
    now += CURSOR_TIMEOUT_MS - 1;
    const used = cursors.open("db.c", docs, (d) => d, { batchSize: 1 }).id;
    expect(cursors.reap()).toBe(0);
    now += 2;
    expect(cursors.reap()).toBe(1);
    expect([cursors.has(idle), cursors.has(pinned), cursors.has(used)]).toEqual([
      false,
      true,
      true,
    ]);
  });
});
