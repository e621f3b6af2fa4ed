import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../observability/logger.js";

export interface ConnectionLimits {
  /** Open connections over all clients; 0 means no limit. */
  readonly maxConnections: number;
  /** Open connections per client address; 0 means no limit. */
  readonly maxConnectionsPerClient: number;
  /**
   * Connections admitted beyond the caps that may only ask for health and metrics, so probes and
   * scrapes still get through while a flood holds every regular slot.
   */
  readonly healthReserve?: number;
  /**
   * A connection that sent no request within this time is closed. Node's headers timeout only
   * starts with a request's first byte, so without this a silent socket stays open for good.
   */
  readonly firstRequestTimeoutMs: number;
  /** The same for a reserve connection (shorter: the reserve is small). */
  readonly reserveIdleMs?: number;
  /** At most one "limit reached" log line per this interval. */
  readonly logIntervalMs?: number;
}

export interface ConnectionGuard {
  /**
   * Wraps the request handler: a request on a reserve connection is answered 503 unless it asks
   * for a health or metrics path.
   */
  wrap(
    handler: (request: IncomingMessage, response: ServerResponse) => void,
  ): (request: IncomingMessage, response: ServerResponse) => void;
  /** Open connections: regular ones and those in the health reserve. */
  stats(): { open: number; reserve: number };
}

/** Paths a reserve connection may use: liveness, readiness and the Prometheus scrape. */
const HEALTH_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

/**
 * Caps connections in total and per client address. Without caps, a few thousand silent sockets
 * exhaust the descriptor limit and every endpoint fails, health checks included. A connection
 * over a cap is not refused outright: a small reserve keeps answering health paths (the oldest
 * silent reserve connection makes room for a new one), everything else on it gets 503.
 */
export function guardConnections(
  server: Server,
  limits: ConnectionLimits,
  logger: Logger,
): ConnectionGuard {
  const reserveSize = limits.healthReserve ?? 16;
  const reserveIdleMs = limits.reserveIdleMs ?? 2_000;
  const logIntervalMs = limits.logIntervalMs ?? 10_000;
  const perClient = new Map<string, number>();
  let open = 0;
  // Insertion order is age order: the first entry without a request is the one to evict.
  const reserve = new Set<Socket>();
  const busy = new WeakSet<Socket>();
  const reapers = new WeakMap<Socket, NodeJS.Timeout>();
  const reapIfSilent = (socket: Socket, ms: number) => {
    const timer = setTimeout(() => socket.destroy(), ms);
    timer.unref();
    reapers.set(socket, timer);
    socket.once("close", () => clearTimeout(timer));
  };
  let refusedSinceLog = 0;
  let lastLogAt = Number.NEGATIVE_INFINITY;

  const overCap = (client: string) =>
    (limits.maxConnections > 0 && open >= limits.maxConnections) ||
    (limits.maxConnectionsPerClient > 0 &&
      (perClient.get(client) ?? 0) >= limits.maxConnectionsPerClient);

  const noteRefusal = (client: string) => {
    refusedSinceLog++;
    const now = performance.now();
    if (now - lastLogAt < logIntervalMs) return;
    lastLogAt = now;
    logger.warn(
      {
        open,
        maxConnections: limits.maxConnections,
        maxConnectionsPerClient: limits.maxConnectionsPerClient,
        client,
        clientConnections: perClient.get(client) ?? 0,
        overCapSinceLastLine: refusedSinceLog,
      },
      "connection limit reached: new connections only get health checks until others close",
    );
    refusedSinceLog = 0;
  };

  server.on("connection", (socket: Socket) => {
    const client = socket.remoteAddress ?? "unknown";
    if (!overCap(client)) {
      open++;
      perClient.set(client, (perClient.get(client) ?? 0) + 1);
      socket.once("close", () => {
        open--;
        const left = (perClient.get(client) ?? 1) - 1;
        if (left > 0) perClient.set(client, left);
        else perClient.delete(client);
      });
      reapIfSilent(socket, limits.firstRequestTimeoutMs);
      return;
    }
    noteRefusal(client);
    if (reserve.size >= reserveSize) {
      const idle = [...reserve].find((candidate) => !busy.has(candidate));
      if (!idle) {
        socket.destroy();
        return;
      }
      reserve.delete(idle);
      idle.destroy();
    }
    reserve.add(socket);
    reapIfSilent(socket, Math.min(reserveIdleMs, limits.firstRequestTimeoutMs));
    socket.once("close", () => reserve.delete(socket));
  });

  return {
    wrap(handler) {
      return (request, response) => {
        const socket = request.socket;
        clearTimeout(reapers.get(socket));
        if (!reserve.has(socket)) {
          handler(request, response);
          return;
        }
        busy.add(socket);
        const path = (request.url ?? "/").split("?")[0] ?? "/";
        if (HEALTH_PATHS.has(path)) {
          response.shouldKeepAlive = false;
          handler(request, response);
          return;
        }
        response.writeHead(503, {
          "content-type": "application/json; charset=utf-8",
          "retry-after": "1",
          connection: "close",
        });
        response.end(
          JSON.stringify({
            errors: [
              {
                message: "Too many open connections; retry shortly.",
                extensions: { code: "UNAVAILABLE" },
              },
            ],
          }),
        );
      };
    },
    stats: () => ({ open, reserve: reserve.size }),
  };
}
