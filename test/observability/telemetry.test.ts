import { createServer } from "node:http";
import { context, propagation, trace } from "@opentelemetry/api";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { startTelemetry } from "../../src/observability/telemetry.js";
import { traceInline } from "../../src/observability/tracing.js";

afterAll(() => {
  trace.disable();
  context.disable();
  propagation.disable();
});

describe("the OpenTelemetry SDK", () => {
  it("starts only when the standard OTEL_* variables ask for it", () => {
    expect(loadConfig({}).otel.exporter).toBeUndefined();
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/" }).otel).toEqual({
      exporter: "otlp",
      tracesEndpoint: "http://collector:4318/v1/traces",
      serviceName: "loopgate",
    });
    expect(
      loadConfig({
        OTEL_TRACES_EXPORTER: "otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/custom",
        OTEL_SERVICE_NAME: "gateway-eu",
      }).otel,
    ).toEqual({
      exporter: "otlp",
      tracesEndpoint: "http://collector:4318/custom",
      serviceName: "gateway-eu",
    });
    expect(loadConfig({ OTEL_TRACES_EXPORTER: "console" }).otel.exporter).toBe("console");
    expect(
      loadConfig({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" })
        .otel.exporter,
    ).toBeUndefined();
    expect(
      loadConfig({ OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318" }).otel
        .exporter,
    ).toBeUndefined();
    expect(startTelemetry(loadConfig({}).otel)).toBeUndefined();
  });

  it("refuses what it cannot do instead of ignoring it", () => {
    expect(() => loadConfig({ OTEL_TRACES_EXPORTER: "zipkin" })).toThrow(ConfigError);
    expect(() => loadConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toThrow(
      /OTEL_EXPORTER_OTLP_PROTOCOL: supported: http\/protobuf, http\/json/,
    );
  });

  it("exports spans over OTLP/HTTP to the configured endpoint", async () => {
    const bodies: string[] = [];
    const paths: string[] = [];
    const server = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => {
        body += chunk;
      });
      request.on("end", () => {
        paths.push(request.url ?? "");
        bodies.push(body);
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    try {
      const telemetry = startTelemetry(
        loadConfig({
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
          OTEL_SERVICE_NAME: "loopgate-test",
        }).otel,
      );
      expect(telemetry).toBeDefined();
      const traceId = await traceInline(
        "exported work",
        {},
        async (span) => span.spanContext().traceId,
      );
      await telemetry!.shutdown();
      expect(paths).toEqual(["/v1/traces"]);
      const body = bodies.join("");
      expect(body).toContain("exported work");
      expect(body).toContain("loopgate-test");
      expect(body).toContain(traceId);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
