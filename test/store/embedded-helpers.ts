import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { MongoClient } from "mongodb";
import { afterAll, beforeAll } from "vitest";
import {
  type EmbeddedMongo,
  type EmbeddedMongoOptions,
  startEmbeddedMongo,
} from "../../src/store/embedded/index.js";
import { FrameDecoder } from "../../src/store/embedded/wire.js";

/** A private store in a temp dir for one test file, closed and removed afterwards. */
export function usePrivateStore(options: Partial<EmbeddedMongoOptions> = {}) {
  const handle: { store: EmbeddedMongo; dbPath: string } = {} as never;
  beforeAll(async () => {
    handle.dbPath = await mkdtemp(join(tmpdir(), "loopgate-embedded-test-"));
    handle.store = await startEmbeddedMongo({ port: 0, dbPath: handle.dbPath, ...options });
  });
  afterAll(async () => {
    await handle.store?.close();
    if (handle.dbPath) await rm(handle.dbPath, { recursive: true, force: true });
  });
  return handle;
}

/** A private store (as usePrivateStore) and a driver client connected to it, closed afterwards. */
export function usePrivateClient(options: Partial<EmbeddedMongoOptions> = {}) {
  const store = usePrivateStore(options);
  const handle = { store } as { store: typeof store; client: MongoClient };
  beforeAll(async () => {
    handle.client = await MongoClient.connect(store.store.uri);
  });
  afterAll(async () => {
    await handle.client?.close();
  });
  return handle;
}

/** A raw TCP connection that collects whole wire messages, for protocol-level tests. */
export class RawConnection {
  private readonly frames: Buffer[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  private readonly decoder = new FrameDecoder(64 * 1024 * 1024);

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.frames.push(...this.decoder.push(chunk));
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  static async open(port: number): Promise<RawConnection> {
    const socket = connect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawConnection(socket);
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next whole message from the server, or undefined if the server closed the socket. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const frame = this.frames.shift();
      if (frame) return frame;
      if (this.closed) return undefined;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Resolves once the server closed the connection. */
  async closedByServer(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}

export interface StoreProcess {
  readonly child: ChildProcess;
  readonly uri: string;
  /** Everything written to stdout so far (the URI line and nothing else, by contract). */
  stdout(): string;
  stderr(): string;
}

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** Runs `src/store/embedded/cli.ts` as a child process and waits for its URI line. */
export async function spawnStoreCli(
  dbPath: string,
  extraArgs: string[] = [],
): Promise<StoreProcess> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "src/store/embedded/cli.ts",
      "--port",
      "0",
      "--dbpath",
      dbPath,
      ...extraArgs,
    ],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const uri = await new Promise<string>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf("\n");
      if (newline >= 0) resolve(stdout.slice(0, newline));
    });
    child.once("exit", (code, signal) =>
      reject(new Error(`store CLI exited (${code ?? signal}) before printing its URI:\n${stderr}`)),
    );
  });
  return { child, uri, stdout: () => stdout, stderr: () => stderr };
}

/** Sends a signal and resolves with the exit code (null when killed by the signal). */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals,
): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  child.kill(signal);
  const [code] = await exited;
  return code;
}
