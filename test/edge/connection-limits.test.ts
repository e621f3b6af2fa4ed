import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/http-server.js";
import { createLogger } from "../../src/observability/logger.js";
import { useTestApp } from "../support/app.js";

const t = useTestApp();
const logs: Array<Record<string, unknown>> = [];

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** One HTTP request from a chosen loopback address (127.0.0.x stands for different clients). */
function ask(port: number, from: string, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        localAddress: from,
        path,
        method: body ? "POST" : "GET",
        agent: false,
        headers: body
          ? { "content-type": "application/json", authorization: `Bearer ${t.adminKey}` }
          : {},
        timeout: 10_000,
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8").on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
        );
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer to ${path} from ${from}`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** A connection that never sends a byte; `closed` resolves when the server drops it. */
function silent(port: number, from: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, localAddress: from });
    const closed = new Promise<void>((done) => socket.once("close", () => done()));
    socket.on("error", () => {});
    socket.once("connect", () => resolve({ socket, closed }));
    socket.once("error", reject);
  });
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Fails instead of hanging when the server does not close what it should. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) =>
      setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms),
    ),
  ]);
}

describe("connection caps", () => {
  let http: HttpServer;
  let port = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    http = createHttpServer(t.app.handleNodeRequest, {
      limits: {
        maxConnections: 30,
        maxConnectionsPerClient: 10,
        healthReserve: 4,
        reserveIdleMs: 5_000,
      },
      headersTimeoutMs: 1_500,
      requestTimeoutMs: 5_000,
      logger: createLogger({
        level: "info",
        destination: new Writable({
          write(chunk, _encoding, done) {
            for (const line of String(chunk).split("\n").filter(Boolean))
              logs.push(JSON.parse(line));
            done();
          },
        }),
      }),
    });
    port = (await http.listen(0, "127.0.0.1")).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await http.stop(1_000);
  });

  it("caps silent sockets per client and in total, keeps health answering, logs once and reaps them", async () => {
    const before = logs.length;
    // One client opens 40 silent sockets: 10 regular slots, 4 in the health reserve, the rest
    // evict older reserve sockets, so the server never holds more than 14 for it.
    const flood = [];
    for (let index = 0; index < 40; index++) flood.push(await silent(port, "127.0.0.1"));
    sockets.push(...flood.map((entry) => entry.socket));
    await settle(200);
    const stats = http.connections?.();
    expect(stats).toEqual({ open: 10, reserve: 4 });

    // Another client is unaffected; the flooding one still gets health answers, not work.
    const other = await ask(
      port,
      "127.0.0.2",
      "/graphql",
      JSON.stringify({ query: "{ __typename }" }),
    );
    expect(other.status).toBe(200);
    expect((await ask(port, "127.0.0.1", "/healthz")).status).toBe(200);
    expect((await ask(port, "127.0.0.1", "/readyz")).status).toBe(200);
    const refused = await ask(
      port,
      "127.0.0.1",
      "/graphql",
      JSON.stringify({ query: "{ __typename }" }),
    );
    expect(refused.status).toBe(503);
    expect(refused.headers["retry-after"]).toBe("1");
    expect(JSON.parse(refused.body).errors[0].extensions.code).toBe("UNAVAILABLE");

    // Hitting the cap over and over is one warning line, not one per connection.
    const warnings = logs
      .slice(before)
      .filter((line) => String(line.msg).startsWith("connection limit reached"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: "warn", client: "127.0.0.1" });

    // Silent sockets are closed by the headers timeout, freeing every slot.
    await within(
      Promise.all(flood.map((entry) => entry.closed)),
      8_000,
      "the server did not close silent sockets",
    );
    await settle(300);
    expect(http.connections?.()).toEqual({ open: 0, reserve: 0 });
  });

  it("caps the total across clients while health checks keep answering", async () => {
    const opened = [];
    for (let client = 2; client <= 4; client++) {
      for (let index = 0; index < 10; index++) opened.push(await silent(port, `127.0.0.${client}`));
    }
    opened.push(await silent(port, "127.0.0.5"));
    sockets.push(...opened.map((entry) => entry.socket));
    await settle(200);
    expect(http.connections?.()).toEqual({ open: 30, reserve: 1 });
    expect((await ask(port, "127.0.0.6", "/healthz")).status).toBe(200);
    const refused = await ask(
      port,
      "127.0.0.6",
      "/graphql",
      JSON.stringify({ query: "{ __typename }" }),
    );
    expect(refused.status).toBe(503);
    await within(
      Promise.all(opened.map((entry) => entry.closed)),
      8_000,
      "the server did not close silent sockets",
    );
    expect(
      (await ask(port, "127.0.0.6", "/graphql", JSON.stringify({ query: "{ __typename }" })))
        .status,
    ).toBe(200);
  });
});
