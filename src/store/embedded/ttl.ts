import type { Logger } from "pino";
import { keyOf } from "./bson-key.js";
import { Bound, Rank } from "./bson-order.js";
import type { Catalog } from "./catalog.js";
import type { Collection, IndexRuntime, StoredDoc } from "./collection.js";
import { pathValues } from "./index-keys.js";
import type { ServerParameters } from "./parameters.js";

/**
 * The TTL monitor, as in mongod: every `ttlMonitorSleepSecs` it deletes documents whose
 * TTL-indexed Date (or the earliest Date of an array) is older than `expireAfterSeconds`.
 * The expired documents are found through the index (its Date range), not by a scan.
 */

export interface TtlMonitor {
  /** Runs one pass now; returns how many documents were deleted. */
  sweep(): number;
  stop(): void;
}

function expired(collection: Collection, ix: IndexRuntime, cutoff: Date): StoredDoc[] {
  const field = ix.fields[0];
  if (!ix.table || !field || ix.spec.expireAfterSeconds === undefined) return [];
  const lower = [Bound.bracketStart(Rank.Date)];
  const upper = [cutoff];
  const [lo, hi] = field.direction === 1 ? [lower, upper] : [upper, lower];
  const seen = new Set<string>();
  const out: StoredDoc[] = [];
  for (const row of ix.table.rows(lo, hi)) {
    if (seen.has(row.id)) continue;
    const doc = collection.docs.fromRow(row);
    // The range includes the cutoff itself; expired means strictly older (any Date of an array).
    const dates = pathValues(doc.typed, field.path).values;
    if (!dates.some((d) => d instanceof Date && d.getTime() < cutoff.getTime())) continue;
    seen.add(row.id);
    out.push(doc);
  }
  return out;
}

export function sweepExpired(catalog: Catalog, now: Date): number {
  let deleted = 0;
  for (const collection of catalog.ttlCollections()) {
    for (const ix of collection.indexes) {
      if (ix.spec.expireAfterSeconds === undefined) continue;
      const cutoff = new Date(now.getTime() - ix.spec.expireAfterSeconds * 1000);
      const docs = expired(collection, ix, cutoff);
      if (docs.length === 0) continue;
      catalog.write(() => {
        for (const doc of docs) {
          // Still the same version (documents are re-read from SQLite, so compare contents).
          const current = collection.docs.get(doc.key);
          if (current && current.seq === doc.seq && keyOf(current.typed) === keyOf(doc.typed)) {
            collection.remove(doc);
            deleted++;
          }
        }
      });
    }
  }
  return deleted;
}

export function startTtlMonitor(options: {
  catalog: Catalog;
  parameters: ServerParameters;
  now: () => Date;
  logger: Logger | undefined;
}): TtlMonitor {
  const { catalog, parameters, now, logger } = options;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const sweep = (): number => {
    if (parameters.get("ttlMonitorEnabled") === false) return 0;
    try {
      const n = sweepExpired(catalog, now());
      if (n > 0) logger?.debug({ deleted: n }, "TTL monitor deleted expired documents");
      return n;
    } catch (error) {
      logger?.error({ err: error }, "TTL monitor pass failed");
      return 0;
    }
  };

  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    const seconds = Number(parameters.get("ttlMonitorSleepSecs")) || 60;
    timer = setTimeout(() => {
      sweep();
      schedule();
    }, seconds * 1000);
    timer.unref();
  };

  // A new interval takes effect at once rather than after the current (possibly 60 s) sleep.
  parameters.onChange((name) => {
    if (name === "ttlMonitorSleepSecs") schedule();
  });
  schedule();

  return {
    sweep,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
