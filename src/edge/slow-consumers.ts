import type { ServerResponse } from "node:http";
import type { Plugin } from "graphql-yoga";
import type { Logger } from "../observability/logger.js";

export interface SlowConsumerOptions {
  /** A live-feed socket that accepts nothing for this long is a slow consumer. */
  readonly stallTimeoutMs: number;
  /**
   * After the closing error event is queued, how long the client may take to read it before the
   * connection is reset (which frees the kernel's buffers at once).
   */
  readonly graceMs?: number;
  readonly logger: Logger;
}

export const SLOW_CONSUMER_CODE = "SLOW_CONSUMER";

/**
 * Watches server-sent event streams for backpressure on their socket. A client that stops
 * reading would otherwise hold its events in kernel buffers for good (hundreds of them hold
 * hundreds of MB and slow ingestion for everyone). When the socket stays full for
 * `stallTimeoutMs`, the subscription is ended, a last `next` event with a `SLOW_CONSUMER` error
 * and a `complete` event are queued behind what the client has not read, and the response ends;
 * a client that still reads nothing within the grace time is reset.
 */
export function slowConsumerPlugin(options: SlowConsumerOptions): Plugin {
  const graceMs = options.graceMs ?? Math.max(options.stallTimeoutMs, 5_000);
  const checkEveryMs = Math.max(20, Math.min(1_000, Math.floor(options.stallTimeoutMs / 4)));
  const closing = new TextEncoder().encode(
    `event: next\ndata: ${JSON.stringify({
      errors: [
        {
          message: `The live feed was closed because the client did not read it for ${options.stallTimeoutMs} ms; reconnect and query what was missed.`,
          extensions: { code: SLOW_CONSUMER_CODE },
        },
      ],
    })}\n\nevent: complete\ndata:\n\n`,
  );
  return {
    onResponse({ response, serverContext, setResponse, fetchAPI }) {
      const res = (serverContext as { res?: ServerResponse }).res;
      const upstream = response.body;
      if (
        !res ||
        !upstream ||
        !response.headers.get("content-type")?.startsWith("text/event-stream")
      ) {
        return;
      }
      const reader = upstream.getReader();
      let slow = false;
      let stalledSince: number | undefined;
      let reset: NodeJS.Timeout | undefined;
      const watch = setInterval(() => {
        if (!res.writableNeedDrain) {
          stalledSince = undefined;
          return;
        }
        const now = performance.now();
        stalledSince ??= now;
        if (now - stalledSince < options.stallTimeoutMs) return;
        slow = true;
        clearInterval(watch);
        options.logger.warn(
          { stalledMs: Math.round(now - stalledSince), buffered: res.writableLength },
          "live feed closed: the client stopped reading",
        );
        // Ends the subscription (its event buffer is released); a pending read resolves done.
        void reader.cancel().catch(() => {});
        reset = setTimeout(() => res.socket?.resetAndDestroy(), graceMs);
        reset.unref();
      }, checkEveryMs);
      watch.unref();
      res.once("close", () => {
        clearInterval(watch);
        clearTimeout(reset);
      });
      let finished = false;
      const body = new fetchAPI.ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (finished) return;
            const next = slow ? { done: true as const, value: undefined } : await reader.read();
            if (!next.done) {
              controller.enqueue(next.value);
              return;
            }
            finished = true;
            clearInterval(watch);
            if (slow) controller.enqueue(closing);
            controller.close();
          },
          cancel(reason) {
            clearInterval(watch);
            return reader.cancel(reason);
          },
        },
        { highWaterMark: 0 },
      );
      setResponse(
        new fetchAPI.Response(body, {
          status: response.status,
          statusText: response.statusText,
          headers: response.headers,
        }),
      );
    },
  };
}
