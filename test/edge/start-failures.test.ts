import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { StartError, startLoopgate } from "../../src/main.js";
import { startEmbeddedMongo } from "../../src/store/embedded/index.js";

const root = new URL("../../", import.meta.url).pathname;

function occupyPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      resolve({ server, port: (server.address() as { port: number }).port });
    });
  });
}

const environment = (dataDir: string, extra: Record<string, string> = {}) => ({
  NODE_ENV: "test",
  HOST: "127.0.0.1",
  DATA_DIR: dataDir,
  LOG_LEVEL: "silent",
  LOOPGATE_SECRET: "start-failure-secret-start-failure-secret-01",
  ...extra,
});

describe("a start that fails", () => {
  let dataDir = "";
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-start-"));
  });
  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it("on a port in use says so in one line and touches no data", async () => {
    const taken = await occupyPort();
    try {
      const started = startLoopgate(
        environment(dataDir, { PORT: String(taken.port), MONGODB_URI: inject("mongoUri") }),
      );
      await expect(started).rejects.toThrow(StartError);
      await expect(started).rejects.toThrow(`port ${taken.port} on 127.0.0.1 is already in use`);
      expect(await readdir(dataDir)).toEqual([]);

      // As `npm start` reports it: one line on stderr, exit status 1.
      const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
        cwd: root,
        env: { ...process.env, ...environment(dataDir, { PORT: String(taken.port) }) },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (chunk) => {
        stderr += String(chunk);
      });
      const code = await new Promise((resolve) => child.on("exit", resolve));
      expect(code).toBe(1);
      expect(stderr.trim().split("\n")).toEqual([
        `Loopgate failed to start: port ${taken.port} on 127.0.0.1 is already in use; stop the other process or set PORT`,
      ]);
      expect(await readdir(dataDir)).toEqual([]);
    } finally {
      taken.server.close();
    }
  }, 60_000);

  it("on a locked data directory says so and releases the port it had bound", async () => {
    const other = await startEmbeddedMongo({ port: 0, dbPath: join(dataDir, "db") });
    const free = await occupyPort();
    free.server.close();
    try {
      const started = startLoopgate(environment(dataDir, { PORT: String(free.port) }));
      await expect(started).rejects.toThrow(
        `DATA_DIR ${dataDir} is in use by another Loopgate or store process`,
      );
      // The port is free again.
      const again = createServer();
      await new Promise<void>((resolve, reject) => {
        again.once("error", reject);
        again.listen(free.port, "127.0.0.1", () => resolve());
      });
      again.close();
    } finally {
      await other.close();
    }
  }, 60_000);
});
