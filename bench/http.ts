/**
 * HTTP benchmark: the same load (autocannon, N connections, fixed duration) against a bare Node
 * `http` server, bare graphql-yoga with a trivial mutation, and the compiled gateway
 * (`dist/main.js`, as `npm start` runs it) on the embedded store. Every server is its own process
 * on a free 127.0.0.1 port, so the load generator does not share its event loop.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { summarizeProfile } from "./profile.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

export interface HttpBenchOptions {
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly connections: number;
  /** Also profile the gateway (`--cpu-prof`) under the submitBinaryFeedback load. */
  readonly profile: boolean;
}

interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<number | null>;
}

interface Measured {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly total: number;
  /** Transport errors, timeouts, non-2xx answers and answers without the expected result. */
  readonly failed: number;
}

/** The gateway's "listening" log line, with the port it bound. */
export const LISTENING = /"port":(\d+),(?:"role":"\w+",)?"msg":"Loopgate is listening"/;

async function waitFor<T>(probe: () => T | undefined, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

/** A bench server script printing `listening <port>` on stdout. */
async function startScript(script: string): Promise<Server> {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    output += chunk;
  });
  const port = await waitFor(() => output.match(/listening (\d+)/)?.[1], `${script} to listen`);
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      child.kill("SIGTERM");
      return exited(child);
    },
  };
}

/** The compiled gateway in production mode; its JSON log goes to a file, as it would be shipped. */
const SECRET = randomBytes(32).toString("hex");
let gatewayStarts = 0;

async function startGateway(
  dataDir: string,
  adminKey: string,
  nodeFlags: string[] = [],
): Promise<Server> {
  mkdirSync(dataDir, { recursive: true });
  // A new log per start: an earlier start's "listening" line must not be mistaken for this one's.
  const logFile = join(dataDir, `gateway-${++gatewayStarts}.log`);
  const log = openSync(logFile, "w");
  const child = spawn(process.execPath, [...nodeFlags, "dist/main.js"], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: "production",
      HOST: "127.0.0.1",
      PORT: "0",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      LOOPGATE_SECRET: SECRET,
      LOOPGATE_BOOTSTRAP_ADMIN_KEY: adminKey,
    },
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  const port = await waitFor(() => {
    if (child.exitCode !== null) throw new Error(readFileSync(logFile, "utf8"));
    return readFileSync(logFile, "utf8").match(LISTENING)?.[1];
  }, "the gateway to listen");
  return {
    url: `http://127.0.0.1:${port}`,
    child,
    async stop() {
      child.kill("SIGTERM");
      return exited(child);
    },
  };
}

interface Load {
  readonly headers?: Record<string, string>;
  /** A fresh body per request (distinct interactions, as real traffic has). */
  readonly body: () => string;
  /** A successful answer contains this. */
  readonly expect: string;
}

function run(url: string, load: Load, connections: number, durationSec: number) {
  let failed = 0;
  return new Promise<Measured>((resolve, reject) => {
    autocannon(
      {
        url: `${url}/graphql`,
        connections,
        duration: durationSec,
        requests: [
          {
            method: "POST",
            headers: { "content-type": "application/json", ...load.headers },
            setupRequest: (request) => ({ ...request, body: load.body() }),
            onResponse: (status, body) => {
              if (status !== 200 || !body.includes(load.expect)) failed++;
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        resolve({
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          total: result.requests.total,
          failed: failed + result.errors + result.timeouts,
        });
      },
    );
  });
}

async function measure(url: string, load: Load, options: HttpBenchOptions): Promise<Measured> {
  if (options.warmupSec > 0) await run(url, load, options.connections, options.warmupSec);
  return run(url, load, options.connections, options.durationSec);
}

const gql = (query: string, variables?: unknown) => JSON.stringify({ query, variables });

const PING = "mutation { ping(value: 1) }";
const THUMBS =
  "mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename ... on SubmitFeedbackPayload { feedback { id } } } }";
const RECORD =
  "mutation($input: RecordInteractionInput!) { recordInteraction(input: $input) { __typename ... on RecordInteractionPayload { interaction { id } } } }";
const BATCH =
  "mutation($inputs: [RecordInteractionInput!]!) { recordInteractions(inputs: $inputs) { __typename ... on RecordInteractionsPayload { recorded } } }";
const BATCH_SIZE = 100;

let sequence = 0;
function interaction(tag: string) {
  sequence++;
  return {
    query: `How do I reset my password? (${tag} ${sequence})`,
    response: "Open Settings, then Security, then Reset password.",
    model: { id: "bench-bot", version: "2026-11-01" },
    sessionId: `s-${sequence % 5_000}`,
    userId: `customer-${sequence % 20_000}`,
  };
}

/** Creates `count` interactions to send feedback on; returns their ids. */
async function seedInteractions(url: string, adminKey: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < count) {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
      body: gql(
        "mutation($inputs: [RecordInteractionInput!]!) { recordInteractions(inputs: $inputs) { ... on RecordInteractionsPayload { results { ... on RecordInteractionPayload { interaction { id } } } } } }",
        { inputs: Array.from({ length: 500 }, () => interaction("seed")) },
      ),
    });
    const json = (await response.json()) as {
      data?: { recordInteractions?: { results?: Array<{ interaction?: { id: string } }> } };
    };
    const results = json.data?.recordInteractions?.results;
    if (!results) throw new Error(`seeding failed: ${JSON.stringify(json).slice(0, 500)}`);
    for (const result of results) if (result.interaction) ids.push(result.interaction.id);
  }
  return ids;
}

/** Feedback on a different interaction each time; after a full round, by a new rater. */
function thumbsLoad(adminKey: string, ids: string[]): Load {
  let next = 0;
  return {
    headers: { authorization: `Bearer ${adminKey}` },
    body: () => {
      const index = next++;
      return gql(THUMBS, {
        input: {
          interactionId: ids[index % ids.length],
          positive: index % 3 !== 0,
          // 5,000 raters taking turns, as a product's users do: one rater's feedback stays far
          // below the spam filter's burst limit, and never repeats on an interaction within
          // a round of the 10,000 seeded ones.
          userId: `rater-${index % 5_000}`,
        },
      });
    },
    expect: '"SubmitFeedbackPayload"',
  };
}

function fmtMs(ms: number) {
  return `${ms.toFixed(0)} ms`;
}
const int = (n: number) => Math.round(n).toLocaleString("en-US");

export async function runHttpBench(options: HttpBenchOptions): Promise<void> {
  const adminKey = `lgk_bench_${randomBytes(24).toString("hex")}`;
  const rows: Array<{ name: string; m: Measured; items?: number }> = [];
  const started = performance.now();
  console.log(
    `\nHTTP benchmark: ${options.connections} connections, ${options.durationSec} s per target ` +
      `(after ${options.warmupSec} s warm-up), autocannon, servers in their own processes`,
  );

  for (const [name, script] of [
    ["bare Node http", "bench/servers/bare-http.ts"],
    ["bare graphql-yoga, trivial mutation", "bench/servers/bare-yoga.ts"],
  ] as const) {
    const server = await startScript(script);
    try {
      const m = await measure(server.url, { body: () => gql(PING), expect: '"ping"' }, options);
      rows.push({ name, m });
    } finally {
      await server.stop();
    }
  }

  const dataDir = await mkdtemp(join(tmpdir(), "loopgate-bench-http-"));
  try {
    const gateway = await startGateway(dataDir, adminKey);
    try {
      const auth = { authorization: `Bearer ${adminKey}` };
      const ids = await seedInteractions(gateway.url, adminKey, 10_000);
      rows.push({
        name: "Loopgate submitBinaryFeedback",
        m: await measure(gateway.url, thumbsLoad(adminKey, ids), options),
      });
      rows.push({
        name: "Loopgate recordInteraction",
        m: await measure(
          gateway.url,
          {
            headers: auth,
            body: () => gql(RECORD, { input: interaction("single") }),
            expect: '"RecordInteractionPayload"',
          },
          options,
        ),
      });
      const batch = await measure(
        gateway.url,
        {
          headers: auth,
          body: () =>
            gql(BATCH, {
              inputs: Array.from({ length: BATCH_SIZE }, () => interaction("batch")),
            }),
          expect: `"recorded":${BATCH_SIZE}`,
        },
        options,
      );
      rows.push({
        name: `Loopgate recordInteractions ×${BATCH_SIZE}`,
        m: batch,
        items: batch.rps * BATCH_SIZE,
      });
    } finally {
      const code = await gateway.stop();
      if (code !== 0) console.log(`(the gateway exited with ${code})`);
    }

    const yoga = rows[1]!.m;
    const widths = [38, 9, 8, 8, 10, 10, 8];
    const line = (cells: string[]) =>
      console.log(
        cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
      );
    console.log("");
    line(["target", "req/s", "p50", "p99", "req/s ×Yoga", "p99 ×Yoga", "failed"]);
    console.log("-".repeat(widths.reduce((a, b) => a + b + 2, -2)));
    for (const { name, m } of rows) {
      line([
        name,
        int(m.rps),
        fmtMs(m.p50),
        fmtMs(m.p99),
        (m.rps / yoga.rps).toFixed(2),
        (m.p99 / Math.max(yoga.p99, 1)).toFixed(2),
        int(m.failed),
      ]);
    }
    for (const { name, items } of rows) {
      if (items !== undefined) console.log(`${name}: ${int(items)} interactions/s`);
    }

    if (options.profile) await profileFeedback(dataDir, adminKey, options);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
  console.log(`HTTP bench time: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

/** One more gateway run under the feedback load with V8's sampling profiler on. */
async function profileFeedback(dataDir: string, adminKey: string, options: HttpBenchOptions) {
  const profileDir = join(dataDir, "profile");
  const profiledData = join(dataDir, "profiled");
  // Seeded by a gateway without the profiler, so the profile holds only the feedback load.
  const seeder = await startGateway(profiledData, adminKey);
  // Fewer than the measured runs: loading the store at start shows in the profile too.
  const ids = await seedInteractions(seeder.url, adminKey, 3_000).finally(() => seeder.stop());
  const gateway = await startGateway(profiledData, adminKey, [
    "--cpu-prof",
    `--cpu-prof-dir=${profileDir}`,
  ]);
  let measured: Measured;
  try {
    // Long enough for the load, not the start, to dominate the profile.
    measured = await run(
      gateway.url,
      thumbsLoad(adminKey, ids),
      options.connections,
      Math.max(20, 2 * options.durationSec),
    );
  } finally {
    await gateway.stop();
  }
  // One profile per thread: the gateway's main thread and the embedded store's worker thread.
  const files = (await readdir(profileDir)).filter((name) => name.endsWith(".cpuprofile")).sort();
  if (files.length === 0) throw new Error("no CPU profile was written");
  console.log(
    `\nProfile of the gateway under submitBinaryFeedback (${int(measured.rps)} req/s while profiled; ` +
      "includes start and shutdown):",
  );
  for (const file of files) {
    console.log(`\n--- thread profile ${file}`);
    console.log(summarizeProfile(readFileSync(join(profileDir, file), "utf8")));
  }
}
