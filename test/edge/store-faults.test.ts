import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLoopgate, startLoopgate } from "../../src/main.js";
import { createLogger } from "../../src/observability/logger.js";
import {
  type EmbeddedProcess,
  killProcess,
  spawnEmbeddedStore,
} from "../support/embedded-process.js";

/**
 * The fault suite: Loopgate on a separately started embedded store that is stalled (SIGSTOP) and
 * killed under a steady write load, then resumed and restarted on the same data directory.
 */
const ADMIN_KEY = "fault-suite-admin-key-0123456789abcdef";
const RECORD = `mutation($input: RecordInteractionInput!) {
  recordInteraction(input: $input) { __typename ... on RecordInteractionPayload { interaction { id } } }
}`;

interface Outcome {
  readonly phase: string;
  readonly key: string;
  readonly status: number | "hung" | "refused";
  readonly retryAfter: string | null;
  readonly body: any;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("database stalls and outages under load", () => {
  let storeDir = "";
  let dataDir = "";
  let store: EmbeddedProcess | undefined;
  let gateway: RunningLoopgate | undefined;
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    storeDir = await mkdtemp(join(tmpdir(), "loopgate-fault-store-"));
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-fault-data-"));
  });
  afterAll(async () => {
    await gateway?.stop();
    if (store) await killProcess(store.child);
    await rm(storeDir, { recursive: true, force: true });
    await rm(dataDir, { recursive: true, force: true });
  });

  it("answers 503 with Retry-After quickly, keeps /readyz under 2 s, recovers, and loses no acknowledged write", async () => {
    store = await spawnEmbeddedStore(storeDir);
    const port = Number(new URL(store.uri).port);
    const destination = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split("\n").filter(Boolean)) logs.push(JSON.parse(line));
        done();
      },
    });
    gateway = await startLoopgate(
      {
        NODE_ENV: "test",
        PORT: "0",
        HOST: "127.0.0.1",
        MONGODB_URI: store.uri,
        MONGODB_DB: "faults",
        DATA_DIR: dataDir,
        LOOPGATE_SECRET: "fault-suite-secret-fault-suite-secret-0123",
        LOOPGATE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
        MONGODB_TIMEOUT_MS: "1000",
        MONGODB_SERVER_SELECTION_TIMEOUT_MS: "1000",
        READINESS_TIMEOUT_MS: "1000",
        SHUTDOWN_TIMEOUT_MS: "2000",
      },
      { logger: createLogger({ level: "info", destination }) },
    );
    const url = gateway.url;

    let phase = "healthy";
    let running = true;
    let sequence = 0;
    const outcomes: Outcome[] = [];
    const write = async (): Promise<Outcome> => {
      const key = `fault-${phase}-${sequence++}`;
      const at = phase;
      try {
        const response = await fetch(`${url}/graphql`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            accept: "application/graphql-response+json",
            authorization: `Bearer ${ADMIN_KEY}`,
          },
          body: JSON.stringify({
            query: RECORD,
            variables: {
              input: {
                query: `question ${key}`,
                response: "answer",
                model: { id: "fault-model", version: "v1" },
                idempotencyKey: key,
              },
            },
          }),
          // A request the gateway leaves hanging is a failure of this suite, not a slow answer.
          signal: AbortSignal.timeout(15_000),
        });
        return {
          phase: at,
          key,
          status: response.status,
          retryAfter: response.headers.get("retry-after"),
          body: await response.json(),
        };
      } catch (error) {
        const hung = (error as Error).name === "TimeoutError";
        return { phase: at, key, status: hung ? "hung" : "refused", retryAfter: null, body: null };
      }
    };
    const workers = Array.from({ length: 3 }, async () => {
      while (running) {
        outcomes.push(await write());
        await sleep(20);
      }
    });
    const readyz = async () => {
      const started = performance.now();
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      return { status: response.status, ms: performance.now() - started };
    };
    const waitReady = async () => {
      for (let attempt = 0; attempt < 100; attempt++) {
        if ((await readyz()).status === 200) return;
        await sleep(200);
      }
      throw new Error("the gateway did not become ready again");
    };

    await sleep(500);

    // Stall: the process exists but answers nothing.
    phase = "stalled";
    store.child.kill("SIGSTOP");
    await sleep(2_500);
    const stalledReady = await readyz();
    phase = "resuming";
    store.child.kill("SIGCONT");
    await waitReady();
    phase = "resumed";
    await sleep(1_000);

    // Outage: the process is gone; then it comes back on the same port and data directory.
    phase = "down";
    await killProcess(store.child);
    await sleep(2_500);
    const downReady = await readyz();
    phase = "restarting";
    store = await spawnEmbeddedStore(storeDir, { port });
    await waitReady();
    phase = "recovered";
    await sleep(1_000);
    running = false;
    await Promise.all(workers);

    expect(stalledReady.status).toBe(503);
    expect(stalledReady.ms).toBeLessThan(2_000);
    expect(downReady.status).toBe(503);
    expect(downReady.ms).toBeLessThan(2_000);

    // Every answer is either a success or the documented retryable error; nothing hangs.
    const acknowledged: string[] = [];
    // With the gateway's log of that request, so an unexpected answer says what went wrong.
    const explain = (outcome: Outcome) => {
      const requestId = outcome.body?.errors?.[0]?.extensions?.requestId;
      const logged = logs.filter(
        (line) =>
          (requestId && JSON.stringify(line).includes(requestId)) ||
          line.level === "error" ||
          line.level === "fatal",
      );
      return JSON.stringify({ outcome, logged });
    };
    for (const outcome of outcomes) {
      if (outcome.status === 200) {
        expect(outcome.body.errors, explain(outcome)).toBeUndefined();
        expect(outcome.body.data.recordInteraction.__typename).toBe("RecordInteractionPayload");
        acknowledged.push(outcome.key);
        continue;
      }
      expect(outcome.status, explain(outcome)).toBe(503);
      expect(outcome.retryAfter).toBe("5");
      expect(outcome.body.errors.map((error: any) => error.extensions.code)).toEqual([
        "UNAVAILABLE",
      ]);
    }
    const byPhase = (name: string, status: number) =>
      outcomes.filter((outcome) => outcome.phase === name && outcome.status === status).length;
    expect(byPhase("stalled", 503)).toBeGreaterThan(0);
    expect(byPhase("down", 503)).toBeGreaterThan(0);
    expect(byPhase("resumed", 200)).toBeGreaterThan(0);
    expect(byPhase("recovered", 200)).toBeGreaterThan(0);

    // Nothing acknowledged was lost.
    const client = new MongoClient(store.uri);
    try {
      const stored = await client
        .db("faults")
        .collection("interactions")
        .find({ idempotencyKey: { $in: acknowledged } }, { projection: { idempotencyKey: 1 } })
        .toArray();
      expect(new Set(stored.map((doc) => doc.idempotencyKey))).toEqual(new Set(acknowledged));
    } finally {
      await client.close();
    }
    // An outage is one warning line per failed request, never an error with a stack trace.
    expect(logs.filter((line) => line.level === "error")).toEqual([]);
  }, 120_000);
});
