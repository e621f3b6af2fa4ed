import { parentPort, workerData } from "node:worker_threads";
import pino from "pino";
import { type EmbeddedMongo, startEmbeddedMongo } from "./index.js";
import type { FromStore, StoreThreadOptions, ToStore } from "./thread.js";

/**
 * The worker thread's side of thread.ts: starts the store on its private socket, forwards its
 * log lines, readiness and figures to the gateway's thread, and closes it when told to.
 */

if (!parentPort) throw new Error("thread-worker.ts runs only as a worker thread (see thread.ts)");
const port = parentPort;
const options = workerData as StoreThreadOptions;
const post = (message: FromStore) => port.postMessage(message);
// Lines travel to the gateway's thread, which logs them with its own logger and destination.
const logger = pino(
  { level: options.logLevel ?? "info" },
  { write: (line: string) => post({ type: "log", line }) },
);

async function main(): Promise<void> {
  let store: EmbeddedMongo;
  try {
    store = await startEmbeddedMongo({
      dbPath: options.dbPath,
      socketPath: options.socketPath,
      logger,
      ...(options.cacheMb !== undefined ? { cacheMb: options.cacheMb } : {}),
      ...(options.budgetDocuments !== undefined
        ? { budgetDocuments: options.budgetDocuments }
        : {}),
      ...(options.groupCommit !== undefined ? { groupCommit: options.groupCommit } : {}),
    });
  } catch (error) {
    const { name, message } = error instanceof Error ? error : new Error(String(error));
    post({ type: "failed", name, message });
    port.close();
    return;
  }
  post({ type: "started", uri: store.uri, socketPath: store.socketPath ?? "" });
  store.ready.then(
    () => post({ type: "ready" }),
    (error: unknown) => post({ type: "loadFailed", message: String((error as Error)?.message) }),
  );

  port.on("message", (message: ToStore) => {
    switch (message.type) {
      case "stats":
        post({ type: "stats", id: message.id, stats: store.stats() });
        return;
      case "checkBudget":
        store.checkBudget();
        return;
      case "close":
        void store.close().then(
          () => {
            post({ type: "closed" });
            port.close();
          },
          (error: unknown) => {
            logger.error({ err: error }, "the embedded store failed to close cleanly");
            post({ type: "closed" });
            port.close();
          },
        );
        return;
    }
  });
}

void main();
