import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * The gateway as users run it (`npm start`): a child process on the embedded store, stopped by
 * signals. Each start uses port 0 and reads the bound port from the "listening" log line.
 */
interface Running {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
}

const root = new URL("../../", import.meta.url).pathname;

function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_ENV: "development",
      LOG_LEVEL: "info",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Array<Record<string, unknown>> = [];
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr?.on("data", (chunk) => {
    stderr += String(chunk);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), 60_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === "Loopgate is listening") {
        clearTimeout(timer);
        resolve({ child, url: `http://127.0.0.1:${entry.port}`, lines, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${stderr}`));
    });
  });
}

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
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-process-"));
  });
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
  });

  it("prints every configuration problem at once and exits non-zero", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
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
