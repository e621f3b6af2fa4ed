import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request as httpRequest } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildDist,
  isAlive,
  killStartedGateways,
  processTree,
  REPO_ROOT as root,
  startGateway,
  storeIsLocked,
  tcpPortAcceptsConnections,
} from "../support/process.js";

/**
 * The gateway as users run it: the compiled build (`dist/`, what `npm start` runs) as a child
 * process on the embedded store, stopped by signals (`startGateway`, test/support/process.ts).
 */
const start = (env: Record<string, string>, command?: readonly string[]) =>
  startGateway(env, command);
afterAll(killStartedGateways);

async function gql(url: string, key: string, query: string, variables?: unknown) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
}

const RECORD = `mutation($input: RecordInteractionInput!) {
  recordInteraction(input: $input) { ... on RecordInteractionPayload { interaction { id } } }
}`;
const COUNT = "{ interactions { totalCount } }";

describe("npm start on the embedded store", () => {
  let dataDir = "";
  beforeAll(async () => {
    // Only this file runs the build, so no other test reads dist/ while tsc writes it.
    await buildDist();
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-process-"));
  }, 300_000);
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("serves, stops gracefully on SIGTERM, and keeps its data across restarts and kill -9", async () => {
    const first = await start({ DATA_DIR: dataDir });
    expect((await fetch(`${first.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${first.url}/readyz`)).status).toBe(200);
    expect(await (await fetch(`${first.url}/metrics`)).text()).toContain(
      "process_cpu_user_seconds_total",
    );

    // The bootstrap admin key is saved for local tools; the (shipped) JSON log only names the file.
    const key = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    expect(first.lines).toContainEqual(
      expect.objectContaining({ file: join(dataDir, "admin-key") }),
    );
    expect(JSON.stringify(first.lines)).not.toContain(key);
    const recorded = await gql(first.url, key, RECORD, {
      input: { query: "q1", response: "r1", model: { id: "m", version: "1" } },
    });
    expect(recorded.data.recordInteraction.interaction.id).toBeTruthy();

    first.child.kill("SIGTERM");
    expect(await first.exited).toBe(0);
    expect(first.lines).toContainEqual(expect.objectContaining({ msg: "Loopgate stopped" }));

    // Restart: same data, same key, no new bootstrap key.
    const second = await start({ DATA_DIR: dataDir });
    expect((await gql(second.url, key, COUNT)).data.interactions.totalCount).toBe(1);
    expect(second.lines.some((line) => String(line.msg).includes("admin API key"))).toBe(false);
    const acknowledged = await gql(second.url, key, RECORD, {
      input: { query: "q2", response: "r2", model: { id: "m", version: "1" } },
    });
    expect(acknowledged.data.recordInteraction.interaction.id).toBeTruthy();

    // An acknowledged write survives the process being killed without any chance to clean up.
    second.child.kill("SIGKILL");
    await second.exited;
    const third = await start({ DATA_DIR: dataDir });
    expect((await gql(third.url, key, COUNT)).data.interactions.totalCount).toBe(2);
    third.child.kill("SIGINT");
    expect(await third.exited).toBe(0);
  }, 180_000);

  it("a start that fails says why in one line, exits 1 and leaves nothing behind", async () => {
    const runToExit = async (env: Record<string, string>) => {
      const child = spawn(process.execPath, ["dist/main.js"], {
        cwd: root,
        env: { ...process.env, HOST: "127.0.0.1", NODE_ENV: "development", ...env },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += String(chunk);
      });
      const code = await new Promise((resolve) => child.on("exit", resolve));
      return { code, lines: stderr.trim().split("\n") };
    };

    // The HTTP port is taken: the store it had opened is closed again.
    const squatter = createNetServer();
    await new Promise<void>((resolve) => squatter.listen(0, "127.0.0.1", resolve));
    const port = (squatter.address() as AddressInfo).port;
    const portDir = await mkdtemp(join(tmpdir(), "loopgate-port-taken-"));
    try {
      const taken = await runToExit({ PORT: String(port), DATA_DIR: portDir });
      expect(taken.code).toBe(1);
      expect(taken.lines).toEqual([
        `Loopgate failed to start: port ${port} on 127.0.0.1 is already in use; stop the other process or set PORT`,
      ]);
      // The port is bound first: a start that cannot listen never touched the data directory.
      expect(existsSync(join(portDir, "db"))).toBe(false);
    } finally {
      squatter.close();
      await rm(portDir, { recursive: true, force: true });
    }

    // The data directory is in use by a running gateway, which keeps serving.
    const running = await start({ DATA_DIR: dataDir });
    const locked = await runToExit({ PORT: "0", DATA_DIR: dataDir });
    expect(locked.code).toBe(1);
    expect(locked.lines).toHaveLength(1);
    expect(locked.lines[0]).toMatch(
      /^Loopgate failed to start: DATA_DIR .+ is in use by another Loopgate or store process; stop it or set another DATA_DIR$/,
    );
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    running.child.kill("SIGTERM");
    expect(await running.exited).toBe(0);
  }, 180_000);

  it("prints every configuration problem at once and exits non-zero", async () => {
    const child = spawn(process.execPath, ["dist/main.js"], {
      cwd: root,
      env: {
        ...process.env,
        PORT: "not-a-port",
        MONGODB_URI: "http://nope",
        LOG_LEVEL: "loud",
        NODE_ENV: "production",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += String(chunk);
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(stderr).toContain("PORT");
    expect(stderr).toContain("MONGODB_URI");
    expect(stderr).toContain("LOG_LEVEL");
    expect(stderr).toContain("LOOPGATE_SECRET");
  });
});

/** Reads a GraphQL-over-SSE response to its end, collecting the `next` payloads. */
async function readEventStream(response: Response) {
  const events: any[] = [];
  let completed = false;
  let buffer = "";
  const decoder = new TextDecoder();
  const reader = response.body!.getReader();
  let firstEvent: () => void = () => undefined;
  const first = new Promise<void>((resolve) => {
    firstEvent = resolve;
  });
  const ended = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
        const block = buffer.slice(0, end).split("\n");
        buffer = buffer.slice(end + 2);
        const event = block
          .find((line) => line.startsWith("event:"))
          ?.slice(6)
          .trim();
        const data = block
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trim())
          .join("");
        if (event === "complete") completed = true;
        if (event === "next" && data) {
          events.push(JSON.parse(data));
          firstEvent();
        }
      }
    }
  })();
  return { events, first, ended, completed: () => completed };
}

const BATCH = `mutation($inputs: [RecordInteractionInput!]!) {
  recordInteractions(inputs: $inputs) {
    __typename ... on RecordInteractionsPayload { recorded results { ... on RecordInteractionPayload { interaction { id } } } }
  }
}`;
const THUMBS = `mutation($input: BinaryFeedbackInput!) {
  submitBinaryFeedback(input: $input) { __typename }
}`;
const LIVE = "subscription { feedbackReceived { kind } }";

describe("npm start, signalled as Docker and process managers do", () => {
  let dataDir = "";
  beforeAll(async () => {
    await buildDist();
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-npm-start-"));
  }, 300_000);
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("drains in-flight requests and live streams on SIGTERM to npm, exits 0 and leaves nothing behind", async () => {
    const gateway = await start({ DATA_DIR: dataDir, SHUTDOWN_TIMEOUT_MS: "60000" }, [
      "npm",
      "start",
    ]);
    const npmPid = gateway.child.pid!;
    const port = Number(new URL(gateway.url).port);
    const key = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    const tree = await processTree(npmPid);
    // npm and the gateway, with no shell in between (the start script execs node).
    expect(tree.length).toBeGreaterThanOrEqual(2);
    expect(storeIsLocked(join(dataDir, "db"))).toBe(true);

    const interaction = (query: string) => ({
      query,
      response: `answer to ${query}`,
      model: { id: "signals", version: "1" },
    });
    const seeded = await gql(gateway.url, key, BATCH, {
      inputs: Array.from({ length: 64 }, (_, i) => interaction(`seed ${i}`)),
    });
    const ids: string[] = seeded.data.recordInteractions.results.map((r: any) => r.interaction.id);

    // A live subscriber; feedback is sent until its first event shows the stream is listening.
    const live = await fetch(`${gateway.url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${key}`,
      },
      body: JSON.stringify({ query: LIVE }),
    });
    expect(live.headers.get("content-type")).toContain("text/event-stream");
    const stream = await readEventStream(live);
    for (let i = 0; !(await Promise.race([stream.first.then(() => true), delay(200)])); i++) {
      expect(i).toBeLessThan(100);
      await gql(gateway.url, key, THUMBS, {
        input: { interactionId: ids[0], positive: true, userId: `warm-${i}` },
      });
    }

    // Load: 24 batches of 100 interactions (slow-ish) and 40 feedback on distinct interactions,
    // sent at once on 64 keep-alive connections the gateway has already accepted. (A connection
    // still waiting in the listen backlog when the signal comes is refused, as by any server:
    // its request was never received, and the client may resend it elsewhere.)
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    let signalledAt = Number.POSITIVE_INFINITY;
    const sent: Array<Promise<void>> = [];
    const send = (query: string, variables: unknown) => {
      const body = JSON.stringify({ query, variables });
      let onWritten: () => void = () => undefined;
      sent.push(
        new Promise<void>((resolve) => {
          onWritten = resolve;
        }),
      );
      return new Promise<{ status: number; body: any; afterSignal: boolean }>((resolve, reject) => {
        const request = httpRequest(
          `${gateway.url}/graphql`,
          {
            method: "POST",
            agent,
            headers: {
              "content-type": "application/json",
              "content-length": Buffer.byteLength(body),
              authorization: `Bearer ${key}`,
            },
          },
          (response) => {
            let text = "";
            response.setEncoding("utf8").on("data", (chunk: string) => {
              text += chunk;
            });
            response.on("end", () =>
              resolve({
                status: response.statusCode ?? 0,
                body: JSON.parse(text),
                afterSignal: performance.now() > signalledAt,
              }),
            );
          },
        );
        request.on("error", reject);
        request.end(body, onWritten);
      });
    };
    const warm = await Promise.all(Array.from({ length: 64 }, () => send("{ __typename }", {})));
    expect(warm.every((answer) => answer.status === 200)).toBe(true);
    sent.length = 0;
    const batches = Array.from({ length: 24 }, (_, b) =>
      send(BATCH, {
        inputs: Array.from({ length: 100 }, (_, i) => interaction(`load ${b}-${i}`)),
      }),
    );
    const feedback = ids
      .slice(1, 41)
      .map((id, i) =>
        send(THUMBS, { input: { interactionId: id, positive: i % 2 === 0, userId: `rater-${i}` } }),
      );
    const all = [...batches, ...feedback];
    // Signal once every request was written and the gateway is busy with them.
    await Promise.all(sent);
    await Promise.race(all);
    signalledAt = performance.now();
    gateway.child.kill("SIGTERM");

    const answers = await Promise.all(all);
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body.errors).toBeUndefined();
    }
    for (const answer of answers.slice(0, batches.length)) {
      expect(answer.body.data.recordInteractions.recorded).toBe(100);
    }
    for (const answer of answers.slice(batches.length)) {
      expect(answer.body.data.submitBinaryFeedback.__typename).toBe("SubmitFeedbackPayload");
    }
    // The signal really arrived mid-load: some answers were only sent after it.
    expect(answers.filter((answer) => answer.afterSignal).length).toBeGreaterThan(0);

    // The live stream saw the load's feedback and was completed, not cut.
    await stream.ended;
    expect(stream.completed()).toBe(true);
    expect(stream.events.length).toBeGreaterThan(1);

    expect(await gateway.exited).toBe(0);
    expect(gateway.child.signalCode).toBeNull();
    expect(gateway.lines).toContainEqual(expect.objectContaining({ msg: "Loopgate stopped" }));
    expect(tree.filter(isAlive)).toEqual([]);
    expect(await tcpPortAcceptsConnections(port)).toBe(false);
    expect(storeIsLocked(join(dataDir, "db"))).toBe(false);
    agent.destroy();
  }, 180_000);

  it("stops the same way on SIGINT (Ctrl-C)", async () => {
    const gateway = await start({ DATA_DIR: dataDir }, ["npm", "start"]);
    const tree = await processTree(gateway.child.pid!);
    gateway.child.kill("SIGINT");
    expect(await gateway.exited).toBe(0);
    expect(tree.filter(isAlive)).toEqual([]);
    expect(storeIsLocked(join(dataDir, "db"))).toBe(false);
  }, 120_000);
});

const delay = (ms: number) => new Promise<false>((resolve) => setTimeout(() => resolve(false), ms));
