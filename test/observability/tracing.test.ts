import { createServer, type IncomingHttpHeaders } from "node:http";
import { Writable } from "node:stream";
import { context, propagation, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpClient } from "../../src/integrations/http.js";
import { registerIntegrationMetrics } from "../../src/observability/integration-metrics.js";
import { createLogger } from "../../src/observability/logger.js";
import { traceInline } from "../../src/observability/tracing.js";
import { interactionInput, RECORD, useTestApp } from "../support/app.js";
import { parseExposition, sample } from "../support/metrics.js";
import { waitUntil } from "../support/poll.js";

const exporter = new InMemorySpanExporter();
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
provider.register();

const testApp = useTestApp({
  jobs: {
    types: [{ name: "test.traced", maxAttempts: 1 }],
    handlers: (services) => ({
      "test.traced": async () => {
        await services.jobs.stats();
      },
    }),
  },
});

afterAll(async () => {
  await provider.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
});

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const idOf = (span: ReadableSpan) => span.spanContext().spanId;

describe("OpenTelemetry spans (and the integration metrics hook)", () => {
  beforeAll(() => exporter.reset());

  it("nest GraphQL operation → root field → MongoDB commands", async () => {
    exporter.reset();
    const result = await testApp.gql(RECORD, { input: interactionInput() });
    expect(result.data?.recordInteraction.__typename).toBe("RecordInteractionPayload");
    const spans = exporter.getFinishedSpans();
    const operation = spans.find((span) => span.name === "mutation Record");
    expect(operation, spans.map((span) => span.name).join(", ")).toBeDefined();
    expect(operation!.attributes).toMatchObject({
      "graphql.operation.type": "mutation",
      "graphql.operation.name": "Record",
    });
    const field = spans.find((span) => span.name === "graphql.resolve Mutation.recordInteraction");
    expect(field && parentOf(field)).toBe(idOf(operation!));
    const insert = spans.find((span) => span.name === "insert interactions");
    expect(insert?.kind).toBe(SpanKind.CLIENT);
    expect(insert?.attributes).toMatchObject({
      "db.system.name": "mongodb",
      "db.operation.name": "insert",
      "db.collection.name": "interactions",
    });
    expect(insert && parentOf(insert)).toBe(idOf(field!));
    expect(
      new Set([operation, field, insert].map((span) => span!.spanContext().traceId)).size,
    ).toBe(1);
  });

  it("mark an operation with errors", async () => {
    exporter.reset();
    await testApp.gql('query Broken { node(id: "not-an-id") { id } }');
    const operation = exporter.getFinishedSpans().find((span) => span.name === "query Broken");
    expect(operation?.status.code).toBe(SpanStatusCode.ERROR);
  });

  it("cover a job run, with its database commands inside", async () => {
    exporter.reset();
    await testApp.services.jobs.enqueue("test.traced", {});
    testApp.worker!.start();
    await waitUntil(
      () => exporter.getFinishedSpans().some((span) => span.name === "job test.traced"),
      { timeoutMs: 10_000, what: "the job span" },
    );
    await testApp.worker!.stop(5_000);
    const spans = exporter.getFinishedSpans();
    const job = spans.find((span) => span.name === "job test.traced")!;
    expect(job.kind).toBe(SpanKind.CONSUMER);
    expect(job.attributes).toMatchObject({ "loopgate.job.type": "test.traced" });
    expect(
      spans.some((span) => span.name === "aggregate jobs" && parentOf(span) === idOf(job)),
    ).toBe(true);
  });

  it("cover outbound integration calls and pass the trace on in traceparent", async () => {
    exporter.reset();
    const received: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      received.push(request.headers);
      response.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      // The integration metrics implement the client's metrics hook as they are.
      const registry = new Registry();
      const metrics = registerIntegrationMetrics(registry, ["argilla"]);
      const client = createHttpClient({
        integration: "argilla",
        baseUrl: `http://127.0.0.1:${port}`,
        metrics: metrics.http,
      });
      const traceId = await traceInline("sync", {}, async (span) => {
        await client.request({ method: "GET", path: "/api/v1/me" });
        return span.spanContext().traceId;
      });
      const call = exporter.getFinishedSpans().find((span) => span.name === "GET")!;
      expect(call.kind).toBe(SpanKind.CLIENT);
      expect(call.attributes).toMatchObject({
        "http.request.method": "GET",
        "http.response.status_code": 200,
        "loopgate.integration": "argilla",
        "url.full": `http://127.0.0.1:${port}/api/v1/me`,
      });
      expect(call.spanContext().traceId).toBe(traceId);
      expect(received[0]?.traceparent).toBe(`00-${traceId}-${idOf(call)}-01`);
      metrics.itemsSynced("argilla", "push", 3);
      const samples = parseExposition(await registry.metrics());
      expect(
        sample(samples, "loopgate_integration_requests_total", {
          integration: "argilla",
          outcome: "success",
          status_class: "2xx",
        }),
      ).toBe(1);
      expect(
        sample(samples, "loopgate_integration_items_synced_total", {
          integration: "argilla",
          direction: "push",
        }),
      ).toBe(3);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("put trace and span ids in log lines written inside a span", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const destination = new Writable({
      write(chunk, _encoding, done) {
        lines.push(JSON.parse(String(chunk)));
        done();
      },
    });
    const logger = createLogger({ level: "info", destination });
    logger.info("outside");
    const ids = await traceInline("work", {}, async (span) => {
      logger.info("inside");
      return span.spanContext();
    });
    expect(lines[0]).not.toHaveProperty("trace_id");
    expect(lines[1]).toMatchObject({ msg: "inside", trace_id: ids.traceId, span_id: ids.spanId });
  });
});
