import { type DestinationStream, type Logger, pino } from "pino";
import type { RequestScopes } from "./request-scope.js";
import { traceFields } from "./tracing.js";

export type { Logger } from "pino";

export interface LoggerOptions {
  level: string;
  /** Adds the current request id to every line written while a request is being served. */
  scopes?: RequestScopes;
  /** Where JSON lines go; stdout by default. Tests pass a stream to read what was logged. */
  destination?: DestinationStream;
}

/** Structured JSON logs; one line per event so log shippers need no parsing rules. */
export function createLogger({ level, scopes, destination }: LoggerOptions): Logger {
  return pino(
    {
      level,
      base: { service: "loopgate" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // The request id, and the trace and span ids while a span is recording, so a log line
      // leads to its trace.
      mixin: () => {
        const scope = scopes?.current();
        return scope ? { requestId: scope.requestId, ...traceFields() } : traceFields();
      },
      // Credentials travel in headers and mutation inputs; never let a debug log print them.
      redact: {
        paths: ["headers.authorization", "*.authorization", "*.feedbackToken", "*.apiKey"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}
