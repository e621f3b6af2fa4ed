import type Database from "better-sqlite3";

/**
 * Pages of stored rows read as one packed result instead of one JavaScript row per document.
 * better-sqlite3 spends about 3 µs making a Buffer for each BLOB it returns, which was half of
 * a streamed `$group`'s time (profiled at 200,000 documents, once decoding was made cheap);
 * here SQLite concatenates a page's documents
 * into one BLOB (a BSON document carries its own length, so the page splits without copying),
 * with the rids and ids beside it as JSON arrays.
 *
 * SQLite leaves the order of an aggregate's input unspecified, so the page also returns its rids
 * aggregated with an explicit ORDER BY: when the two lists differ, or anything else does not add
 * up, the page is read again row by row. So is a page whose documents and ids exceed
 * PACKED_PAGE_BYTES, which bounds the memory one packed page takes whatever their sizes.
 */

export const PACKED_PAGE_BYTES = 16 * 1024 * 1024;

export interface PageRow {
  readonly id: string;
  readonly rid: number;
  /** A view into the page's buffer: copy it before keeping anything decoded from it. */
  readonly doc: Buffer;
}

export interface Page {
  readonly rows: PageRow[];
  /** The sort key of the last row (index pages), to continue after it. */
  readonly lastKey?: Buffer;
}

/**
 * The statements of one page query, prepared once per page size. The limit is written into the
 * SQL rather than bound: with `LIMIT ?` every run of the statement cost about 20 µs more (a
 * point lookup through an index went from 10 µs to 30 µs), measured on this machine's SQLite.
 */
export interface PageQuery {
  /** `args` are the WHERE parameters; `limit` a positive integer. */
  read(args: readonly unknown[], limit: number): Page;
}

interface PageStatements {
  readonly rows: Database.Statement;
  readonly packed: Database.Statement;
  readonly bytes: Database.Statement;
}

interface PackedResult {
  docs: Buffer | null;
  rids: string;
  ordered: string;
  ids: string;
  last: Buffer | null;
  n: number;
}

/**
 * Packing pays off for long pages only: for a point lookup the two extra aggregate queries cost
 * more than the one Buffer they save.
 */
export const PACKED_MIN_ROWS = 256;

/**
 * A page query. `query` selects `rid`, `id` and `doc` (and `key` when keyed) with its WHERE and
 * ORDER BY, without LIMIT; `order` names the selected columns in that order, e.g.
 * "key DESC, rid DESC".
 */
export function preparePage(
  db: Database.Database,
  query: string,
  order: string,
  keyed: boolean,
): PageQuery {
  const last = keyed ? `${order.includes("DESC") ? "min" : "max"}(key)` : "NULL";
  const byLimit = new Map<number, PageStatements>();
  const statements = (limit: number): PageStatements => {
    let st = byLimit.get(limit);
    if (!st) {
      if (!Number.isSafeInteger(limit) || limit < 1) throw new Error(`bad page limit ${limit}`);
      const inner = `${query} LIMIT ${limit}`;
      st = {
        rows: db.prepare(inner),
        packed: db.prepare(
          `SELECT CAST(group_concat(doc, '') AS BLOB) AS docs, json_group_array(rid) AS rids,
            json_group_array(rid ORDER BY ${order}) AS ordered, json_group_array(id) AS ids,
            ${last} AS last, count(*) AS n FROM (${inner})`,
        ),
        bytes: db.prepare(`SELECT total(length(doc)) + total(length(id)) FROM (${inner})`).pluck(),
      };
      byLimit.set(limit, st);
    }
    return st;
  };
  return {
    read(args, limit) {
      const st = statements(limit);
      if (limit >= PACKED_MIN_ROWS && (st.bytes.get(...args) as number) <= PACKED_PAGE_BYTES) {
        const result = packed(st, args);
        const rows = result && unpack(result);
        if (rows) return rows.length && result.last ? { rows, lastKey: result.last } : { rows };
      }
      const rows = st.rows.all(...args) as (PageRow & { key?: Buffer })[];
      const lastKey = rows[rows.length - 1]?.key;
      return lastKey ? { rows, lastKey } : { rows };
    },
  };
}

/** The packed page, or undefined when SQLite finds it too big to build (read it row by row). */
function packed(st: PageStatements, args: readonly unknown[]): PackedResult | undefined {
  try {
    return st.packed.get(...args) as PackedResult;
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_TOOBIG") return undefined;
    throw error;
  }
}

function unpack(result: PackedResult): PageRow[] | undefined {
  if (result.n === 0) return [];
  if (!result.docs || result.rids !== result.ordered) return undefined;
  const rids = JSON.parse(result.rids) as number[];
  const ids = JSON.parse(result.ids) as string[];
  if (rids.length !== result.n || ids.length !== result.n) return undefined;
  const page = result.docs;
  const rows: PageRow[] = new Array(result.n);
  let at = 0;
  for (let i = 0; i < result.n; i++) {
    if (at + 4 > page.length) return undefined;
    const length = page.readInt32LE(at);
    rows[i] = { id: ids[i]!, rid: rids[i]!, doc: page.subarray(at, at + length) };
    at += length;
  }
  return at === page.length ? rows : undefined;
}
