import type { MongoClient } from "mongodb";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { metricNames } from "./thresholds.js";

/** The `command` label's values; any other command name is `other`, so series stay bounded. */
export const mongoCommandNames = [
  "find",
  "getMore",
  "insert",
  "update",
  "delete",
  "findAndModify",
  "aggregate",
  "count",
  "distinct",
  "bulkWrite",
  "createIndexes",
  "listIndexes",
  "listCollections",
  "killCursors",
  "endSessions",
  "ping",
  "hello",
] as const;
const known = new Set<string>(mongoCommandNames);
export const commandLabel = (name: string) => (known.has(name) ? name : "other");

/**
 * Command latency and the connection pool, from the driver's command monitoring and CMAP events
 * (the client must be created with `monitorCommands: true`, as connectStore does). Listening costs
 * no round trip; pool gauges are kept by counting the pool's own events.
 */
export function registerMongoMetrics(registry: Registry, client: MongoClient): () => void {
  const duration = new Histogram({
    name: metricNames.mongoCommandDuration,
    help: "MongoDB command round trips as the driver measured them, by command and outcome.",
    labelNames: ["command", "outcome"] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  let open = 0;
  let inUse = 0;
  new Gauge({
    name: metricNames.mongoPoolConnections,
    help: "Connections of the driver's pools, by state (in_use, available).",
    labelNames: ["state"] as const,
    registers: [registry],
    collect() {
      this.set({ state: "in_use" }, inUse);
      this.set({ state: "available" }, Math.max(0, open - inUse));
    },
  });
  const checkoutFailures = new Counter({
    name: metricNames.mongoPoolCheckoutFailures,
    help: "Connection checkouts that failed (pool closed, wait queue timeout, connection error), by reason.",
    labelNames: ["reason"] as const,
    registers: [registry],
  });
  type Listener = (...args: never[]) => void;
  const listeners: Array<[string, Listener]> = [
    [
      "commandSucceeded",
      (event: { commandName: string; duration: number }) =>
        duration.observe(
          { command: commandLabel(event.commandName), outcome: "ok" },
          event.duration / 1000,
        ),
    ],
    [
      "commandFailed",
      (event: { commandName: string; duration: number }) =>
        duration.observe(
          { command: commandLabel(event.commandName), outcome: "error" },
          event.duration / 1000,
        ),
    ],
    ["connectionCreated", () => open++],
    ["connectionClosed", () => open--],
    ["connectionCheckedOut", () => inUse++],
    ["connectionCheckedIn", () => inUse--],
    [
      "connectionCheckOutFailed",
      (event: { reason: string }) =>
        checkoutFailures.inc({
          reason: ["poolClosed", "timeout", "connectionError"].includes(event.reason)
            ? event.reason
            : "other",
        }),
    ],
  ];
  const emitter = client as unknown as NodeJS.EventEmitter;
  for (const [name, listener] of listeners)
    emitter.on(name, listener as (...args: unknown[]) => void);
  return () => {
    for (const [name, listener] of listeners)
      emitter.off(name, listener as (...args: unknown[]) => void);
  };
}
