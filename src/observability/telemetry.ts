import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  NodeTracerProvider,
  type SpanExporter,
} from "@opentelemetry/sdk-trace-node";
import type { OtelConfig } from "../config.js";

export interface Telemetry {
  /** Flushes spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK when the configuration asks for it, and registers it globally:
 * `@opentelemetry/api` is a process-wide facade by design (libraries find the tracer there), so
 * this is the one global the composition root sets. Returns undefined while tracing is off.
 */
export function startTelemetry(config: OtelConfig): Telemetry | undefined {
  if (!config.exporter) return undefined;
  const exporter: SpanExporter =
    config.exporter === "console"
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter(config.tracesEndpoint ? { url: config.tracesEndpoint } : {});
  const provider = new NodeTracerProvider({
    // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME, with `loopgate` as the default name.
    resource: resourceFromAttributes({ "service.name": config.serviceName }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // Sets the async-local context manager and the W3C trace-context propagator as well.
  provider.register();
  return { shutdown: () => provider.shutdown() };
}
