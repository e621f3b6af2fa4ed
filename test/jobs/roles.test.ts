import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { describe, expect, inject, it } from "vitest";
import { type ConfigError, loadConfig } from "../../src/config.js";
import { startLoopgate } from "../../src/main.js";
import { createLogger } from "../../src/observability/logger.js";
import { useTestApp } from "../support/app.js";
import { uniqueDbName } from "../support/mongo.js";

describe("LOOPGATE_ROLE and the jobs settings", () => {
  it("defaults to API and workers in one process", () => {
    const config = loadConfig({});
    expect(config.role).toBe("all");
    expect(config.jobs).toEqual({
      concurrency: 4,
      leaseMs: 30_000,
      pollMs: 1_000,
      keepFinishedMs: 7 * 24 * 3_600_000,
      sweepIntervalMs: 60_000,
    });
  });

  it("reports bad jobs settings together with every other problem", () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({ LOOPGATE_ROLE: "both", JOBS_LEASE_MS: "10", JOBS_CONCURRENCY: "0", PORT: "x" });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems.map((problem) => problem.split(":")[0]).sort()).toEqual([
      "JOBS_CONCURRENCY",
      "JOBS_LEASE_MS",
      "LOOPGATE_ROLE",
      "PORT",
    ]);
  });

  describe("an API-only process", () => {
    const testApp = useTestApp({ env: { LOOPGATE_ROLE: "api" } });
    it("has no worker but still serves the jobs API and metrics", async () => {
      expect(testApp.worker).toBeUndefined();
      const result = await testApp.gql("{ jobs { totalCount } }");
      expect(result.data?.jobs.totalCount).toBe(0);
      const metrics = await (await testApp.app.fetch("http://localhost/metrics")).text();
      expect(metrics).toContain("loopgate_job_queue_lag_seconds 0");
    });
  });

  it("a worker-only process serves only health and metrics, and stops on request", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "loopgate-worker-"));
    const dbName = uniqueDbName("worker");
    const running = await startLoopgate(
      {
        NODE_ENV: "test",
        PORT: "0",
        DATA_DIR: dataDir,
        MONGODB_URI: inject("mongoUri"),
        MONGODB_DB: dbName,
        LOOPGATE_SECRET: "test-secret-test-secret-test-secret-0123456789",
        LOOPGATE_ROLE: "worker",
      },
      { logger: createLogger({ level: "silent" }) },
    );
    try {
      expect((await fetch(`${running.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
      expect(await (await fetch(`${running.url}/metrics`)).text()).toContain(
        "loopgate_job_queue_lag_seconds",
      );
      const graphql = await fetch(`${running.url}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      expect(graphql.status).toBe(404);
      expect(await graphql.text()).toContain("LOOPGATE_ROLE=worker");
    } finally {
      await running.stop();
      await rm(dataDir, { recursive: true, force: true });
      const client = await MongoClient.connect(inject("mongoUri"));
      await client.db(dbName).dropDatabase();
      await client.close();
    }
  });
});
