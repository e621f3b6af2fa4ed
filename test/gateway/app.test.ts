import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { systemClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { assemble } from "../../src/main.js";
import { createLogger } from "../../src/observability/logger.js";
import { createRequestScopes } from "../../src/observability/request-scope.js";
import { connectStore } from "../../src/store/mongo.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { uniqueDbName } from "../support/mongo.js";

const testApp = useTestApp();

describe("the gateway over HTTP", () => {
  it("answers { __typename } without credentials", async () => {
    const result = await testApp.gql("{ __typename }", undefined, null);
    expect(result).toEqual({ data: { __typename: "Query" } });
  });

  it("serves a self-contained GraphiQL page at /graphql that opens with example operations", async () => {
    const response = await testApp.app.fetch("http://localhost/graphql", {
      headers: { accept: "text/html" },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/html");
    const html = await response.text();
    // Boolean checks: the page is ~9 MB, too large to print in a failure message.
    expect(html.includes("Loopgate GraphiQL")).toBe(true);
    expect(html.includes("recordInteraction")).toBe(true);
    // No CDN: the page must work on machines without internet access.
    expect(/<script[^>]+src="https?:/.test(html)).toBe(false);
    expect(/<link[^>]+href="https?:\/\/[^"]+\.css/.test(html)).toBe(false);
  });

  it("reports liveness at /healthz and readiness at /readyz", async () => {
    const health = await testApp.app.fetch("http://localhost/healthz");
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await testApp.app.fetch("http://localhost/readyz");
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready", store: "ok" });
  });

  it("exports process, HTTP and GraphQL operation metrics at /metrics, with bounded labels", async () => {
    await testApp.gql("query Probe { serverInfo { version } }");
    const response = await testApp.app.fetch("http://localhost/metrics");
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toContain("process_cpu_user_seconds_total");
    expect(text).toContain("nodejs_heap_size_used_bytes");
    // Client-chosen operation names must not become label values (unbounded series).
    expect(text).not.toContain("Probe");
    expect(text).toMatch(/graphql_envelop_request\{[^}]*operationType="query"[^}]*\} [1-9]/);
    expect(text).toMatch(
      /graphql_yoga_http_duration_count\{[^}]*method="POST"[^}]*statusCode="200"[^}]*\} [1-9]/,
    );
  });

  it("counts stored interactions and feedback by kind, source, sentiment and model", async () => {
    const { id } = await recordInteraction(testApp);
    await testApp.gql(
      `mutation($id: ID!) { submitBinaryFeedback(input: { interactionId: $id, positive: false }) { __typename } }`,
      { id },
    );
    const text = await (await testApp.app.fetch("http://localhost/metrics")).text();
    // No METRICS_MODELS configured: every model is `other`.
    expect(text).toMatch(/^loopgate_interactions_recorded_total\{model="other"\} [1-9]/m);
    expect(text).toMatch(
      /^loopgate_feedback_received_total\{kind="binary",source="user",sentiment="negative",model="other"\} 1$/m,
    );
  });

  it("echoes the caller's request id and logs the request with it", async () => {
    const response = await testApp.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "req-abc-123" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.headers.get("x-request-id")).toBe("req-abc-123");
    expect(testApp.logs).toContainEqual(
      expect.objectContaining({
        requestId: "req-abc-123",
        msg: "request",
        path: "/graphql",
        status: 200,
      }),
    );
  });

  it("rejects an unknown API key with 401 and changes nothing", async () => {
    const response = await testApp.app.fetch("http://localhost/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer lg_not-a-real-key" },
      body: JSON.stringify({ query: "{ __typename }" }),
    });
    expect(response.status).toBe(401);
    const body = (await response.json()) as { errors: Array<{ extensions: { code: string } }> };
    expect(body.errors[0]?.extensions.code).toBe("UNAUTHENTICATED");
  });

  it("refuses documents deeper than the depth limit before executing them", async () => {
    const deep =
      "{ interactions { edges { node { feedback { interaction { feedback { interaction { feedback { interaction { feedback { interaction { id } } } } } } } } } } } }";
    const result = await testApp.gql(deep);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0]?.message).toMatch(/depth/i);
  });
});

describe("when the database is gone", () => {
  it("reports not ready, masks the unexpected error for clients and logs it with the request id", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "loopgate-down-"));
    const config = loadConfig({
      NODE_ENV: "test",
      DATA_DIR: dataDir,
      MONGODB_URI: inject("mongoUri"),
      MONGODB_DB: uniqueDbName("down"),
      LOOPGATE_SECRET: "x".repeat(40),
    });
    const logs: Array<Record<string, unknown>> = [];
    const scopes = createRequestScopes();
    const logger = createLogger({
      level: "info",
      scopes,
      destination: { write: (line: string) => logs.push(JSON.parse(line)) },
    });
    const store = await connectStore({ uri: config.mongodbUri ?? "", dbName: config.mongodbDb });
    const { services, app } = assemble({
      config,
      store,
      clock: systemClock,
      logger,
      scopes,
      secret: "x".repeat(40),
      storeKind: "mongodb",
    });
    const { secret } = await services.apiKeys.create(
      { name: "reader", scopes: ["read"] },
      systemActor("test"),
    );
    // The key is checked before the store goes away; after that every read fails inside a resolver.
    const cachedPrincipal = await services.authenticate(
      new Headers({ authorization: `Bearer ${secret}` }),
    );
    expect(cachedPrincipal.kind).toBe("apiKey");
    await store.db.dropDatabase();
    await store.close();
    try {
      const ready = await app.fetch("http://localhost/readyz");
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({ status: "unavailable", store: "unreachable" });

      const response = await app.fetch("http://localhost/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", "x-request-id": "down-1" },
        body: JSON.stringify({ query: "{ serverInfo { version } __typename }" }),
      });
      expect(response.status).toBe(200);
      // Anonymous queries that need no database keep working.
      expect(((await response.json()) as { data: unknown }).data).toMatchObject({
        __typename: "Query",
      });

      const failing = await app.fetch("http://localhost/graphql", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-request-id": "down-2",
          authorization: `Bearer ${secret}`,
        },
        body: JSON.stringify({ query: "{ __typename }" }),
      });
      const body = (await failing.json()) as {
        errors: Array<{ message: string; extensions: Record<string, unknown> }>;
      };
      expect(body.errors[0]?.message).toBe("Unexpected error.");
      expect(JSON.stringify(body)).not.toMatch(/topology|closed|Mongo/i);
      expect(logs).toContainEqual(expect.objectContaining({ requestId: "down-2", level: "error" }));
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
