import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpServer {
  readonly server: Server;
  /** The bound address; `port` is the real one when 0 was asked for. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then cuts
   * whatever is left, e.g. a subscriber's open event stream. Resolves once the server is closed.
   */
  stop(timeoutMs: number): Promise<{ forced: boolean }>;
}

export function createHttpServer(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
): HttpServer {
  const server = createServer(handler);
  // Node's defaults let a slow client hold a socket for minutes.
  server.headersTimeout = 30_000;
  server.requestTimeout = 120_000;

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
