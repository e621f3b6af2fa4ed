import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, Server as NetServer, type Socket } from "node:net";
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
   * Stops accepting connections and lets in-flight requests finish. Once only event streams
   * (live subscriptions) are left, `closeStreams` is called so that subscribers first receive the
   * events of every write answered during the drain, then see their streams complete. After
   * `timeoutMs` whatever is left is cut. Resolves once the server is closed.
   */
  stop(timeoutMs: number, closeStreams?: () => void): Promise<{ forced: boolean }>;
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

/** How long an accepted connection may take to deliver its first request during shutdown. */
const FIRST_REQUEST_GRACE_MS = 1_000;
const SWEEP_INTERVAL_MS = 50;

interface Connection {
  readonly acceptedAt: number;
  active: number;
  served: number;
  /** Set by a shutdown sweep that found nothing in flight; cleared by the next request. */
  idleAtLastSweep: boolean;
}

/** A GraphQL-over-SSE request: it stays open until its subscription ends. */
const isEventStream = (request: IncomingMessage): boolean =>
  request.headers.accept?.includes("text/event-stream") ?? false;

export function createHttpServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  options: HttpServerOptions = {},
): HttpServer {
  let stopping = false;
  const inFlight = new Map<ServerResponse, IncomingMessage>();
  const connections = new Map<Socket, Connection>();
  const headersTimeout = options.headersTimeoutMs ?? 30_000;
  // Node's defaults let a slow or silent client hold a socket for minutes; timeouts are checked
  // on this interval, so it must be short for a short headers timeout to reap silent sockets.
  const server = createServer({
    connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(headersTimeout / 2))),
  });
  server.headersTimeout = headersTimeout;
  server.requestTimeout = options.requestTimeoutMs ?? 120_000;
  const tracked = (request: IncomingMessage, response: ServerResponse) => {
    // Once stopping, every answer closes its connection, so keep-alive clients open a new one
    // (to another instance) instead of reusing a socket that is about to be closed under them.
    if (stopping) response.shouldKeepAlive = false;
    const connection = connections.get(request.socket);
    if (connection) {
      connection.active++;
      connection.idleAtLastSweep = false;
    }
    inFlight.set(response, request);
    response.once("close", () => {
      inFlight.delete(response);
      if (connection) {
        connection.active--;
        connection.served++;
      }
    });
    handler(request, response);
  };
  const guard =
    options.limits && options.logger
      ? guardConnections(
          server,
          { firstRequestTimeoutMs: headersTimeout, ...options.limits },
          options.logger,
        )
      : undefined;
  server.on("request", guard ? guard.wrap(tracked) : tracked);
  server.on("connection", (socket: Socket) => {
    connections.set(socket, {
      acceptedAt: performance.now(),
      active: 0,
      served: 0,
      idleAtLastSweep: false,
    });
    socket.once("close", () => connections.delete(socket));
  });

  /**
   * Closes connections with nothing in flight: keep-alive sockets between requests, and accepted
   * sockets that delivered no request within the grace. A socket is closed only when the previous
   * sweep already found it idle: timers run after the event loop's I/O phase, so a request that
   * sat unread in its buffer has been read by then. (Node's closeIdleConnections closes at once,
   * answering with a reset a request the client already sent.)
   */
  const closeIdle = () => {
    const now = performance.now();
    for (const [socket, connection] of connections) {
      if (connection.active > 0) continue;
      const graceOver =
        connection.served > 0 || now - connection.acceptedAt >= FIRST_REQUEST_GRACE_MS;
      if (connection.idleAtLastSweep && graceOver) socket.destroy();
      else connection.idleAtLastSweep = true;
    }
  };

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
    stop(timeoutMs, closeStreams = () => undefined) {
      stopping = true;
      for (const response of inFlight.keys()) {
        if (!response.headersSent) response.shouldKeepAlive = false;
      }
      return new Promise((resolve) => {
        let forced = false;
        let streamsClosed = false;
        const closeStreamsOnce = () => {
          if (streamsClosed) return;
          streamsClosed = true;
          closeStreams();
        };
        // The listener only (net's close): http's close() would also run closeIdleConnections.
        const closed = new Promise<void>((done) =>
          NetServer.prototype.close.call(server, () => done()),
        );
        const sweep = () => {
          closeIdle();
          if ([...inFlight.values()].every(isEventStream)) closeStreamsOnce();
        };
        const sweeper = setInterval(sweep, SWEEP_INTERVAL_MS);
        sweep();
        const deadline = setTimeout(() => {
          forced = true;
          closeStreamsOnce();
          server.closeAllConnections();
        }, timeoutMs);
        void closed.then(() => {
          clearInterval(sweeper);
          clearTimeout(deadline);
          resolve({ forced });
        });
      });
    },
  };
}
