/**
 * Memory under large request bodies (a script, not a test): starts a gateway, sends N concurrent
 * requests of S MB each (a single submitBinaryFeedback whose comment is huge, streamed in 1 MiB
 * chunks) and prints the gateway's RSS before, at its peak and after, with the answers' statuses.
 *
 *   npx tsx bench/large-bodies.ts [--requests 48] [--mb 21] [--entry dist/main.js] [--cwd .]
 *
 * `--entry` may name a TypeScript file (run through tsx) to measure another checkout.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { LISTENING } from "./http.js";

const { values } = parseArgs({
  options: {
    requests: { type: "string", default: "48" },
    mb: { type: "string", default: "21" },
    entry: { type: "string", default: "dist/main.js" },
    cwd: { type: "string", default: "." },
  },
});
const count = Number(values.requests);
const bytes = Number(values.mb) * 1_000_000;
const cwd = resolve(values.cwd);
const adminKey = `lgk_bench_${randomBytes(24).toString("hex")}`;

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) / 1024;
}

async function start(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const args = values.entry.endsWith(".ts") ? ["--import", "tsx", values.entry] : [values.entry];
  const child = spawn(process.execPath, args, {
    cwd,
    env: {
      ...process.env,
      NODE_ENV: "production",
      PORT: "0",
      HOST: "127.0.0.1",
      DATA_DIR: dataDir,
      LOG_LEVEL: "info",
      LOOPGATE_SECRET: randomBytes(32).toString("hex"),
      LOOPGATE_BOOTSTRAP_ADMIN_KEY: adminKey,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const port = await new Promise<number>((done, fail) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      const found = output.match(LISTENING)?.[1];
      if (found) {
        output = "";
        done(Number(found));
      }
      if (output.length > 1_000_000) output = "";
    });
    child.once("exit", (code) => fail(new Error(`gateway exited with ${code}`)));
  });
  return { child, url: `http://127.0.0.1:${port}` };
}

function send(url: string, interactionId: string): Promise<number | string> {
  const head = Buffer.from(
    `{"query":"mutation($input: BinaryFeedbackInput!) { submitBinaryFeedback(input: $input) { __typename } }","variables":{"input":{"interactionId":"${interactionId}","positive":true,"comment":"`,
  );
  const tail = Buffer.from('"}}}');
  const chunk = Buffer.alloc(1024 * 1024, "x");
  const padding = bytes - head.length - tail.length;
  return new Promise((done) => {
    const req = request(`${url}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "content-length": bytes,
        authorization: `Bearer ${adminKey}`,
      },
    });
    let answered = false;
    req.on("response", (response) => {
      answered = true;
      response.resume();
      response.on("end", () => {
        done(response.statusCode ?? 0);
        req.destroy();
      });
    });
    req.on("error", (error) => {
      if (!answered) done((error as NodeJS.ErrnoException).code ?? String(error));
    });
    let sent = 0;
    const write = () => {
      if (answered) return;
      if (sent === 0) req.write(head);
      while (sent < padding) {
        const size = Math.min(chunk.length, padding - sent);
        sent += size;
        if (!req.write(size === chunk.length ? chunk : chunk.subarray(0, size))) {
          req.once("drain", write);
          return;
        }
      }
      req.end(tail);
    };
    write();
  });
}

const dataDir = await mkdtemp(join(tmpdir(), "loopgate-large-bodies-"));
const { child, url } = await start(dataDir);
try {
  const recorded = (await (
    await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${adminKey}` },
      body: JSON.stringify({
        query:
          'mutation { recordInteraction(input: { query: "q", response: "r", model: { id: "m", version: "1" } }) { ... on RecordInteractionPayload { interaction { id } } } }',
      }),
    })
  ).json()) as { data: { recordInteraction: { interaction: { id: string } } } };
  const id = recorded.data.recordInteraction.interaction.id;
  const pid = child.pid!;
  const before = await rssMiB(pid);
  let peak = before;
  const sampler = setInterval(async () => {
    peak = Math.max(peak, await rssMiB(pid).catch(() => 0));
  }, 50);
  const started = performance.now();
  const statuses = await Promise.all(Array.from({ length: count }, () => send(url, id)));
  const elapsed = performance.now() - started;
  await new Promise((r) => setTimeout(r, 5_000));
  clearInterval(sampler);
  const after = await rssMiB(pid);
  const tally = new Map<string, number>();
  for (const status of statuses) tally.set(String(status), (tally.get(String(status)) ?? 0) + 1);
  console.log(`${values.entry}: ${count} concurrent ${values.mb} MB submitBinaryFeedback requests`);
  console.log(
    `answers: ${[...tally].map(([s, n]) => `${n}× ${s}`).join(", ")} in ${(elapsed / 1000).toFixed(1)} s`,
  );
  console.log(
    `gateway RSS: before ${before.toFixed(0)} MiB, peak ${peak.toFixed(0)} MiB, 5 s after ${after.toFixed(0)} MiB`,
  );
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  await rm(dataDir, { recursive: true, force: true });
}
