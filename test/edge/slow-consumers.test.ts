import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/http-server.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

const STALL_MS = 300;
const t = useTestApp({ env: { LIVE_FEED_STALL_TIMEOUT_MS: String(STALL_MS) } });

const sockets: Socket[] = [];
const LIVE = `subscription { feedbackReceived { id interaction { response } } }`;
const THUMBS = `mutation($input: BinaryFeedbackInput!) {
  submitBinaryFeedback(input: $input) { __typename }
}`;

/** A raw SSE subscriber whose reading the test controls. */
async function rawSubscriber(
  port: number,
): Promise<{ socket: Socket; text: () => string; ended: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  socket.setEncoding("latin1").on("data", (chunk: string) => {
    text += chunk;
  });
  socket.on("error", () => {});
  sockets.push(socket);
  const ended = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  const body = JSON.stringify({ query: LIVE });
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
  socket.write(
    [
      "POST /graphql HTTP/1.1",
      "Host: 127.0.0.1",
      "Content-Type: application/json",
      "Accept: text/event-stream",
      `Authorization: Bearer ${t.adminKey}`,
      `Content-Length: ${Buffer.byteLength(body)}`,
      "",
      body,
    ].join("\r\n"),
  );
  await until(() => text.includes(":\n\n"), 10_000, "the subscription did not start");
  return { socket, text: () => text, ended };
}

const until = (condition: () => boolean, timeoutMs: number, what: string) =>
  waitUntil(condition, { timeoutMs, intervalMs: 25, what });

const openConnections = (http: HttpServer) =>
  new Promise<number>((resolve, reject) =>
    http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );

describe("slow live-feed consumers", () => {
  let http: HttpServer;
  let port = 0;
  let interactionId = "";
  beforeAll(async () => {
    http = createHttpServer(t.app.handleNodeRequest);
    port = (await http.listen(0, "127.0.0.1")).port;
    // ~100 KB per event: a few hundred events fill any loopback socket's buffers.
    interactionId = (await recordInteraction(t, { response: "r".repeat(99_000) })).id;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await http.stop(500);
  });

  const ingest = async (count: number) => {
    for (let index = 0; index < count; index++) {
      const result = await t.gql(THUMBS, { input: { interactionId, positive: index % 2 === 0 } });
      expect(result.data?.submitBinaryFeedback.__typename).toBe("SubmitFeedbackPayload");
    }
  };

  const stalledLine = (from: number) => () =>
    t.logs.slice(from).some((line) => line.msg === "live feed closed: the client stopped reading");

  it("closes a stalled subscriber with a SLOW_CONSUMER error while ingestion and other subscribers carry on", async () => {
    const slow = await rawSubscriber(port);
    slow.socket.pause();
    const fast = await rawSubscriber(port);
    const before = t.logs.length;

    const ingested = ingest(160);
    await until(stalledLine(before), 30_000, "the stalled subscriber was not detected");
    // Reading again, the stalled client gets what was buffered, then the documented error.
    slow.socket.resume();
    await ingested;
    // The reading subscriber got every event.
    await until(
      () => fast.text().split("event: next").length - 1 === 160,
      15_000,
      "the reading subscriber missed events",
    );
    await until(() => slow.text().includes("event: complete"), 15_000, "no complete event");
    const tail = slow.text().slice(slow.text().lastIndexOf("event: next"));
    expect(tail).toContain('"code":"SLOW_CONSUMER"');
    expect(tail).not.toContain("Unexpected error");
    await slow.ended;
    fast.socket.destroy();
  }, 90_000);

  it("resets a subscriber that never reads again, freeing its connection", async () => {
    const slow = await rawSubscriber(port);
    slow.socket.pause();
    const before = t.logs.length;
    const ingested = ingest(160);
    await until(stalledLine(before), 30_000, "the stalled subscriber was not detected");
    await ingested;
    let open = await openConnections(http);
    const deadline = Date.now() + 15_000;
    while (open > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      open = await openConnections(http);
    }
    expect(open).toBe(0);
  }, 90_000);
});
