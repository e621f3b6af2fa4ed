import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type ConnectionGuard,
  type ConnectionLimits,
  guardConnections,
} from "./edge/connection-limits.js";
import type { Logger } from "./observability/logger.js";

export interface HttpServer {
  readonly server: Server;
  /** The bound address; `port` is the real one when 0 was asked for. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then cuts
   * whatever is left, e.g. a subscriber's open event stream. Resolves once the server is closed.
   */
  stop(timeoutMs: number): Promise<{ forced: boolean }>;
  /** Open connections (regular and health reserve); undefined without connection limits. */
  readonly connections: ConnectionGuard["stats"] | undefined;
}

export interface HttpServerOptions {
  /** Connection caps; without them connections are only bounded by the timeouts. */
  readonly limits?: Omit<ConnectionLimits, "firstRequestTimeoutMs"> &
    Partial<Pick<ConnectionLimits, "firstRequestTimeoutMs">>;
  /** A connection must have sent a request's headers within this time, or it is closed. */
  readonly headersTimeoutMs?: number;
  /** A whole request must arrive within this time. */
  readonly requestTimeoutMs?: number;
  readonly logger?: Logger;
}

export function createHttpServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  options: HttpServerOptions = {},
): HttpServer {
  const headersTimeout = options.headersTimeoutMs ?? 30_000;
  // Node's defaults let a slow or silent client hold a socket for minutes; timeouts are checked
  // on this interval, so it must be short for a short headers timeout to reap silent sockets.
  const server = createServer({
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
  });
  server.headersTimeout = headersTimeout;
  server.requestTimeout = options.requestTimeoutMs ?? 120_000;
  const guard =
    options.limits && options.logger
      ? guardConnections(
          server,
          { firstRequestTimeoutMs: headersTimeout, ...options.limits },
          options.logger,
        )
      : undefined;
  server.on("request", guard ? guard.wrap(handler) : handler);

  return {
    server,
    connections: guard?.stats,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve(server.address() as AddressInfo);
        });
      });
    },
    stop(timeoutMs) {
      return new Promise((resolve) => {
        let forced = false;
        const closed = new Promise<void>((done) => server.close(() => done()));
        // Keep-alive sockets with no request in flight would otherwise hold close() open.
        server.closeIdleConnections();
        const sweep = setInterval(() => server.closeIdleConnections(), 100);
        const deadline = setTimeout(() => {
          forced = true;
          server.closeAllConnections();
        }, timeoutMs);
        void closed.then(() => {
          clearInterval(sweep);
          clearTimeout(deadline);
          resolve({ forced });
        });
      });
    },
  };
}
