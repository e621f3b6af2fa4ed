import { Writable } from "node:stream";
import { usePrometheus } from "@graphql-yoga/plugin-prometheus";
import { createSchema, createYoga } from "graphql-yoga";
import { ObjectId } from "mongodb";
import { Registry } from "prom-client";
import { systemClock } from "../src/clock.js";
import { loadConfig } from "../src/config.js";
import { assemble } from "../src/main.js";
import { createLogger } from "../src/observability/logger.js";
import { createRequestScopes } from "../src/observability/request-scope.js";
import { connectStore } from "../src/store/mongo.js";
import { Prng } from "../test/support/prng.js";

const FEEDBACK = 100_000;
const INTERACTIONS = 100_000;
const SCRAPES = 400;
const MODELS = [
  { id: "support-bot", version: "v1" },
  { id: "support-bot", version: "v2" },
  { id: "chat", version: "v3" },
  { id: "summarize", version: "0.9" },
];

function percentile(samples: number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

async function timeScrapes(fetchMetrics: () => Promise<Response>) {
  for (let i = 0; i < 50; i++) await (await fetchMetrics()).text();
  const samples: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) {
    const started = performance.now();
    const response = await fetchMetrics();
    bytes = (await response.text()).length;
    samples.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99), bytes };
}

/**
 * `BENCH_ONLY=metrics npm run bench`: with 100,000 feedback (and as many interactions) stored over
 * the last 7 days, the window gauges' refresh (the first, full one and the later recent ones) and
 * `/metrics` latency through the app, beside a Yoga app serving an empty registry.
 */
export async function printMetricsBench(uri: string, dbName: string): Promise<void> {
  const store = await connectStore({ uri, dbName });
  await store.ensureIndexes();
  const rng = new Prng(7);
  const now = Date.now();
  const week = 7 * 86_400_000;
  const interactionIds: ObjectId[] = [];
  const seedStarted = performance.now();
  for (let offset = 0; offset < INTERACTIONS; offset += 10_000) {
    const batch = Array.from({ length: 10_000 }, (_, i) => {
      const _id = new ObjectId();
      interactionIds.push(_id);
      const createdAt = new Date(now - week + ((offset + i) / INTERACTIONS) * week);
      return {
        _id,
        query: "q",
        response: "r",
        model: rng.pick(MODELS),
        createdAt,
        recordedAt: createdAt,
        payloadHash: `h${offset + i}`,
        feedbackSummary: {
          count: rng.chance(0.3) ? 1 : 0,
          positive: 0,
          negative: 0,
          hasCorrection: false,
          flagged: false,
          safetyFlagged: false,
          revision: 0,
        },
        feedbackRevision: 0,
      };
    });
    await store.collections.interactions.insertMany(batch as never[], { ordered: false });
  }
  const kinds = [
    "binary",
    "binary",
    "binary",
    "rating",
    "correction",
    "comparison",
    "flag",
    "comment",
  ];
  for (let offset = 0; offset < FEEDBACK; offset += 10_000) {
    const batch = Array.from({ length: 10_000 }, (_, i) => {
      const kind = rng.pick(kinds);
      const createdAt = new Date(now - week + ((offset + i) / FEEDBACK) * week);
      const interactionId = interactionIds[rng.int(0, interactionIds.length - 1)]!;
      return {
        _id: new ObjectId(),
        kind,
        key: "default",
        interactionId,
        interactionIds: [interactionId],
        model: rng.pick(MODELS),
        source: "user",
        subject: interactionId.toHexString(),
        sentiment: rng.chance(0.75) ? "positive" : "negative",
        status: "active",
        ...(kind === "flag"
          ? { flag: { category: rng.chance(0.1) ? "safety" : "other", severity: "low" } }
          : {}),
        ...(kind === "comparison"
          ? { comparison: { preferred: rng.pick(["a", "b", "tie"]) } }
          : {}),
        ...(rng.chance(0.02) ? { category: "knowledge_gap" } : {}),
        createdAt,
        receivedAt: createdAt,
        payloadHash: `f${offset + i}`,
        submittedBy: "bench",
      };
    });
    await store.collections.feedback.insertMany(batch as never[], { ordered: false });
  }
  const seedMs = performance.now() - seedStarted;

  const scopes = createRequestScopes();
  const logger = createLogger({
    level: "warn",
    scopes,
    destination: new Writable({ write: (_chunk, _encoding, done) => done() }),
  });
  const config = loadConfig({
    NODE_ENV: "test",
    LOOPGATE_SECRET: "bench-secret-bench-secret-bench-secret-0123",
    METRICS_MODELS: "support-bot,chat@v3",
  });
  const { app, windowMetrics } = assemble({
    config,
    store,
    clock: systemClock,
    logger,
    scopes,
    secret: config.secret ?? "",
    storeKind: "mongodb",
  });
  let started = performance.now();
  await windowMetrics.refresh();
  const fullMs = performance.now() - started;
  const recent: number[] = [];
  for (let i = 0; i < 10; i++) {
    started = performance.now();
    await windowMetrics.refresh();
    recent.push(performance.now() - started);
  }
  const loopgate = await timeScrapes(() => app.fetch("http://localhost/metrics"));
  const registry = new Registry();
  const bare = createYoga({
    schema: createSchema({ typeDefs: "type Query { ok: Boolean }" }),
    plugins: [usePrometheus({ registry, endpoint: "/metrics" })],
    logging: false,
  });
  const baseline = await timeScrapes(() => Promise.resolve(bare.fetch("http://localhost/metrics")));
  // A scrape while a full rebuild runs: the scrape must not wait for it.
  started = performance.now();
  const rebuilding = windowMetrics.refresh();
  const during = await timeScrapes(() => app.fetch("http://localhost/metrics"));
  await rebuilding;
  const overlapMs = performance.now() - started;

  const fmt = (ms: number) => `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
  console.log(
    `\nMetrics benchmark: ${FEEDBACK.toLocaleString("en-US")} feedback and ${INTERACTIONS.toLocaleString("en-US")} interactions over 7 days (seeded in ${fmt(seedMs)})`,
  );
  console.log("| measurement | p50 | p99 | × baseline p99 |");
  console.log("| --- | --- | --- | --- |");
  console.log(
    `| empty registry via Yoga (baseline), ${baseline.bytes} B | ${fmt(baseline.p50)} | ${fmt(baseline.p99)} | 1.00 |`,
  );
  console.log(
    `| Loopgate /metrics, ${loopgate.bytes.toLocaleString("en-US")} B | ${fmt(loopgate.p50)} | ${fmt(loopgate.p99)} | ${(loopgate.p99 / baseline.p99).toFixed(2)} |`,
  );
  console.log(
    `| Loopgate /metrics during a refresh | ${fmt(during.p50)} | ${fmt(during.p99)} | ${(during.p99 / baseline.p99).toFixed(2)} |`,
  );
  console.log(
    `Window refresh: first (full 7-day rebuild) ${fmt(fullMs)}; recent (last hour) median ${fmt(percentile(recent, 0.5))}, max ${fmt(Math.max(...recent))}; ${SCRAPES} scrapes during one recent refresh took ${fmt(overlapMs)} together. Target: /metrics p99 < 50 ms.`,
  );
  await store.db.dropDatabase();
  await store.close();
}
