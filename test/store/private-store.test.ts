import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningLoopgate, startLoopgate } from "../../src/main.js";
import { STORE_SOCKET_FILE } from "../../src/store/embedded/thread.js";

/**
 * The store Loopgate starts for itself (MONGODB_URI unset) accepts nobody else: it runs on its own
 * thread and listens only on a Unix socket in DATA_DIR/db (mode 0600, directory 0700), with no
 * TCP listener at all.
 */

const environment = (dataDir: string) => ({
  NODE_ENV: "test",
  HOST: "127.0.0.1",
  PORT: "0",
  DATA_DIR: dataDir,
  LOG_LEVEL: "silent",
  LOOPGATE_SECRET: "private-store-secret-private-store-secret-01",
});

/** Inodes of this process's sockets (from /proc/self/fd). */
function ownSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      const match = /^socket:\[(\d+)\]$/.exec(target);
      if (match) inodes.add(match[1]!);
    } catch {
      // The fd closed while we looked.
    }
  }
  return inodes;
}

/** Local ports of TCP sockets in LISTEN state that this process owns. */
function ownTcpListeners(): number[] {
  const inodes = ownSocketInodes();
  const ports: number[] = [];
  for (const table of ["/proc/self/net/tcp", "/proc/self/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.trim().split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      const [, local, , state] = fields;
      const inode = fields[9];
      if (state === "0A" && inode && inodes.has(inode)) {
        ports.push(Number.parseInt(local!.split(":")[1]!, 16));
      }
    }
  }
  return ports.sort((a, b) => a - b);
}

const onLinux = process.platform === "linux";

describe.runIf(onLinux)("the store Loopgate starts for itself", () => {
  let dataDir = "";
  let running: RunningLoopgate;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "loopgate-private-"));
    // A store directory left readable by an older version is tightened to 0700 at start.
    await mkdir(join(dataDir, "db"), { mode: 0o755 });
    await chmod(join(dataDir, "db"), 0o755);
    running = await startLoopgate(environment(dataDir));
  }, 60_000);
  afterAll(async () => {
    await running?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it("listens only on a 0600 Unix socket in a 0700 directory: no TCP listener besides HTTP", async () => {
    const socket = join(dataDir, "db", STORE_SOCKET_FILE);
    const stat = statSync(socket);
    expect(stat.isSocket()).toBe(true);
    expect(stat.mode & 0o777).toBe(0o600);
    expect(statSync(join(dataDir, "db")).mode & 0o777).toBe(0o700);

    // The only TCP port this process listens on is the gateway's HTTP port.
    const httpPort = Number(new URL(running.url).port);
    expect(ownTcpListeners()).toEqual([httpPort]);

    // The app works on it end to end.
    const key = (await readFile(join(dataDir, "admin-key"), "utf8")).trim();
    const response = await fetch(`${running.url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({
        query: `mutation($input: RecordInteractionInput!) {
          recordInteraction(input: $input) { ... on RecordInteractionPayload { interaction { id } } }
        }`,
        variables: { input: { query: "q", response: "r", model: { id: "m", version: "1" } } },
      }),
    });
    const body = (await response.json()) as { data?: { recordInteraction?: unknown } };
    expect(body.data?.recordInteraction).toMatchObject({ interaction: { id: expect.any(String) } });
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(
      /loopgate_embedded_documents\{db="loopgate",collection="interactions"\} 1/,
    );
    expect(metrics).toContain("loopgate_embedded_ready 1");

    // Its owner reaches it through the socket with the URL-encoded path, as the gateway does.
    const owner = new MongoClient(`mongodb://${encodeURIComponent(socket)}`, {
      serverSelectionTimeoutMS: 5_000,
    });
    try {
      expect(await owner.db("loopgate").collection("interactions").countDocuments()).toBe(1);
    } finally {
      await owner.close(true);
    }
  }, 60_000);

  it.runIf(process.getuid?.() === 0)(
    "refuses a connection from another local user",
    async () => {
      const socket = join(dataDir, "db", STORE_SOCKET_FILE);
      // A plain client running as `nobody` tries the socket and gets no further than the kernel.
      const probe = `require("node:net").connect(${JSON.stringify(socket)})
        .on("connect", () => { console.log("connected"); process.exit(0); })
        .on("error", (e) => { console.log(e.code); process.exit(0); });`;
      const child = spawn(process.execPath, ["-e", probe], {
        uid: 65534,
        gid: 65534,
        cwd: "/",
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      child.stdout.on("data", (chunk) => {
        out += String(chunk);
      });
      await new Promise((resolve) => child.on("exit", resolve));
      expect(out.trim()).toBe("EACCES");
    },
    30_000,
  );
});

describe.runIf(onLinux)("a data directory whose socket path is too long", () => {
  let base = "";
  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), "loopgate-long-"));
  });
  afterAll(async () => {
    await rm(base, { recursive: true, force: true });
  });

  it("is refused with a clear error before anything is written", async () => {
    const dataDir = join(base, "d".repeat(100));
    await expect(startLoopgate(environment(dataDir))).rejects.toThrow(
      /socket path .+ is \d+ bytes, over this OS's limit of 107 for Unix sockets; set DATA_DIR to a shorter path/,
    );
    expect(existsSync(dataDir)).toBe(false);
  }, 60_000);

  it("a data directory that cannot be created fails the start with the store's reason", async () => {
    const file = join(base, "a-file");
    await writeFile(file, "not a directory");
    await expect(startLoopgate(environment(join(file, "data")))).rejects.toThrow(/ENOTDIR/);
  }, 60_000);
});
