import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type AddressInfo, Server as NetServer, type Socket } from "node:net";

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
): HttpServer {
  let stopping = false;
  const inFlight = new Map<ServerResponse, IncomingMessage>();
  const connections = new Map<Socket, Connection>();
  const server = createServer((request, response) => {
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
  });
  server.on("connection", (socket: Socket) => {
    connections.set(socket, {
      acceptedAt: performance.now(),
      active: 0,
      served: 0,
      idleAtLastSweep: false,
    });
    socket.once("close", () => connections.delete(socket));
  });
  // Node's defaults let a slow client hold a socket for minutes.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;

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
