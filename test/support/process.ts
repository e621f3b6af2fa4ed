import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import type { Db } from "mongodb";
import { afterAll, beforeAll } from "vitest";
import { STORE_FILE } from "../../src/store/embedded/storage.js";
import { useTestDatabase } from "./mongo.js";

const run = promisify(execFile);
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Compiles src/ to dist/ exactly as `npm run build` does (incremental: quick when up to date). */
export async function buildDist(): Promise<void> {
  await run(
    process.execPath,
    [join(REPO_ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    { cwd: REPO_ROOT },
  );
}

/** `pid` and every process descending from it, from the OS process table. */
export async function processTree(pid: number): Promise<number[]> {
  const { stdout } = await run("ps", ["-e", "-o", "pid=,ppid="]);
  const children = new Map<number, number[]>();
  for (const line of stdout.split("\n")) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i]!) ?? []));
  return tree;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function tcpPortAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/**
 * Whether a process still holds the embedded store's exclusive file lock: an exclusive
 * transaction from here fails at once with SQLITE_BUSY while it does.
 */
export function storeIsLocked(dbPath: string): boolean {
  const db = new Database(join(dbPath, STORE_FILE), { timeout: 0 });
  try {
    db.exec("BEGIN EXCLUSIVE; COMMIT;");
    return false;
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_BUSY") return true;
    throw error;
  } finally {
    db.close();
  }
}

export interface RunningGateway {
  readonly child: ChildProcess;
  readonly url: string;
  /** The gateway's JSON log lines so far. */
  readonly lines: Array<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
}

// Every process tree a test started, so whatever a failed or timed-out test left running can be
// killed and no gateway outlives the run.
const startedPids: number[] = [];

/** Kills what `startGateway` started and is still alive; for a test file's afterAll. */
export function killStartedGateways(): void {
  for (const pid of startedPids.splice(0)) {
    if (isAlive(pid)) process.kill(pid, "SIGKILL");
  }
}

/**
 * Starts the gateway as a child process on port 0 and resolves once it logs that it listens
 * (the bound port comes from that line). Default command: the compiled build, `node dist/main.js`.
 */
export function startGateway(
  env: Record<string, string>,
  command: readonly string[] = [process.execPath, "dist/main.js"],
): Promise<RunningGateway> {
  const [file, ...args] = command;
  const child = spawn(file!, args, {
    cwd: REPO_ROOT,
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
      // npm prints its own banner lines ("> loopgate@… start") before the gateway's JSON log.
      if (!line.startsWith("{")) return;
      const entry = JSON.parse(line) as Record<string, unknown>;
      lines.push(entry);
      if (entry.msg === "Loopgate is listening") {
        clearTimeout(timer);
        void processTree(child.pid!).then((pids) => startedPids.push(...pids));
        resolve({ child, url: `http://127.0.0.1:${entry.port}`, lines, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening:\n${stderr}`));
    });
  });
}

export interface GatewayProcesses {
  /** The file's own database on the shared store, the one the started gateways use. */
  readonly db: Db;
  /**
   * Starts a gateway from the TypeScript sources on that database and the file's own data
   * directory; `env` adds what the test is about (secrets, integrations, intervals).
   */
  start(env: Record<string, string>): Promise<RunningGateway>;
}

/**
 * For a test file that runs gateways as child processes (kills, restarts): its own database and
 * data directory, and in afterAll whatever it started is killed and both are removed. Gateways
 * start from the sources (only process.test.ts builds dist/, so others never race its build).
 */
export function useGatewayProcesses(prefix: string): GatewayProcesses {
  const database = useTestDatabase({}, prefix);
  let dataDir = "";
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `loopgate-${prefix}-`));
  });
  // Registered after the database's hooks, so it runs before the database is dropped.
  afterAll(async () => {
    killStartedGateways();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    db: database.db,
    start: (env) =>
      startGateway(
        {
          MONGODB_URI: database.uri,
          MONGODB_DB: database.name,
          DATA_DIR: dataDir,
          NODE_ENV: "development",
          ...env,
        },
        [process.execPath, "--import", "tsx", "src/main.ts"],
      ),
  };
}
