import { EventEmitter, on } from "node:events";
import type { FeedbackDoc, InteractionDoc } from "./model.js";

/** What the domain announces after a write is durable. */
export interface DomainEventMap {
  interactionRecorded: InteractionDoc;
  feedbackRecorded: FeedbackDoc;
}

export interface DomainEvents {
  emit<Name extends keyof DomainEventMap>(name: Name, payload: DomainEventMap[Name]): void;
  /** Synchronous listener (metrics counters); errors are isolated from the writer. */
  on<Name extends keyof DomainEventMap>(
    name: Name,
    listener: (payload: DomainEventMap[Name]) => void,
  ): () => void;
  /** An async stream of events until `signal` aborts (subscriptions). */
  stream<Name extends keyof DomainEventMap>(
    name: Name,
    signal: AbortSignal,
  ): AsyncIterable<DomainEventMap[Name]>;
  /** Ends every open stream (graceful shutdown: live subscribers must not hold the drain). */
  close(): void;
  /** Listeners and open streams for an event, e.g. live subscriptions. */
  listenerCount(name: keyof DomainEventMap): number;
}

/**
 * In-process events. A subscriber sees what this instance ingested; several instances behind a
 * load balancer each publish their own writes (documented in the README).
 */
export function createDomainEvents(onListenerError: (error: unknown) => void): DomainEvents {
  const emitter = new EventEmitter();
  const closing = new AbortController();
  // Each SSE subscriber adds a listener; hundreds of dashboards are normal, not a leak.
  emitter.setMaxListeners(0);
  return {
    emit(name, payload) {
      emitter.emit(name, payload);
    },
    on(name, listener) {
      const safe = (payload: DomainEventMap[typeof name]) => {
        try {
          listener(payload);
        } catch (error) {
          onListenerError(error);
        }
      };
      emitter.on(name, safe);
      return () => emitter.off(name, safe);
    },
    async *stream(name, signal) {
      try {
        for await (const [payload] of on(emitter, name, {
          signal: AbortSignal.any([signal, closing.signal]),
        })) {
          yield payload as DomainEventMap[typeof name];
        }
      } catch (error) {
        if ((error as Error).name !== "AbortError") throw error;
      }
    },
    close() {
      closing.abort();
    },
    listenerCount: (name) => emitter.listenerCount(name),
  };
}
