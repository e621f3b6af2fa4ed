import { EventEmitter } from "node:events";
import { SlowConsumerError } from "./errors.js";
import type { FeedbackDoc, InteractionDoc } from "./store/documents.js";

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

/** Events a live subscriber may have unread before its stream is closed. */
export const MAX_PENDING_EVENTS = 1_000;

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
    stream(name, signal) {
      // A bounded buffer per subscriber: a client that stops reading would otherwise make the
      // server hold every event for it, without limit.
      type Payload = DomainEventMap[typeof name];
      const queue: Payload[] = [];
      let wake: (() => void) | undefined;
      let ended = false;
      let overflowed = false;
      const end = () => {
        if (ended) return;
        ended = true;
        emitter.off(name, listener);
        wake?.();
      };
      const listener = (payload: Payload) => {
        if (queue.length >= MAX_PENDING_EVENTS) {
          overflowed = true;
          end();
          return;
        }
        queue.push(payload);
        wake?.();
      };
      emitter.on(name, listener);
      const stop = AbortSignal.any([signal, closing.signal]);
      if (stop.aborted) end();
      else stop.addEventListener("abort", end, { once: true });
      const iterator: AsyncIterableIterator<Payload> = {
        [Symbol.asyncIterator]: () => iterator,
        async next() {
          while (queue.length === 0 && !ended) {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
          }
          wake = undefined;
          const value = queue.shift();
          if (value !== undefined) return { done: false, value };
          if (overflowed) {
            throw new SlowConsumerError(
              `the live feed fell ${MAX_PENDING_EVENTS} events behind and was closed; reconnect and query what was missed`,
            );
          }
          return { done: true, value: undefined };
        },
        async return() {
          end();
          return { done: true, value: undefined };
        },
      };
      return iterator;
    },
    close() {
      closing.abort();
    },
    listenerCount: (name) => emitter.listenerCount(name),
  };
}
