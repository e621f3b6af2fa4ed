import { Gauge, type Registry } from "prom-client";
import type { EmbeddedStoreStats } from "./index.js";

/**
 * The embedded store's figures on the gateway's /metrics: documents and data size per
 * collection, file size, cache use and hit ratio, readiness. Read at scrape time from `stats()`,
 * which may answer from the store's own thread (a promise; the gauges of one scrape share it).
 * Only types come from index.ts, so importing this never loads SQLite.
 */
export function registerEmbeddedStoreMetrics(
  registry: Registry,
  read: () => EmbeddedStoreStats | Promise<EmbeddedStoreStats>,
): void {
  const stats = async () => read();
  new Gauge({
    name: "loopgate_embedded_documents",
    help: "Documents per collection in the embedded store.",
    labelNames: ["db", "collection"],
    registers: [registry],
    async collect() {
      const { collections } = await stats();
      this.reset();
      for (const c of collections) this.set({ db: c.db, collection: c.name }, c.documents);
    },
  });
  new Gauge({
    name: "loopgate_embedded_data_bytes",
    help: "BSON bytes of the documents per collection in the embedded store.",
    labelNames: ["db", "collection"],
    registers: [registry],
    async collect() {
      const { collections } = await stats();
      this.reset();
      for (const c of collections) this.set({ db: c.db, collection: c.name }, c.dataBytes);
    },
  });
  new Gauge({
    name: "loopgate_embedded_file_bytes",
    help: "Size of the embedded store's SQLite file.",
    registers: [registry],
    async collect() {
      this.set((await stats()).fileBytes);
    },
  });
  new Gauge({
    name: "loopgate_embedded_cache_hit_ratio",
    help: "Share of document reads answered by the embedded store's cache since start.",
    registers: [registry],
    async collect() {
      const { hits, misses } = (await stats()).cache;
      this.set(hits + misses === 0 ? 0 : hits / (hits + misses));
    },
  });
  new Gauge({
    name: "loopgate_embedded_cache_bytes",
    help: "Estimated heap bytes held by the embedded store's document cache (budget: EMBEDDED_CACHE_MB).",
    registers: [registry],
    async collect() {
      this.set((await stats()).cache.bytes);
    },
  });
  new Gauge({
    name: "loopgate_embedded_ready",
    help: "1 once the embedded store has loaded its indexes after a start, else 0.",
    registers: [registry],
    async collect() {
      this.set((await stats()).ready ? 1 : 0);
    },
  });
}
