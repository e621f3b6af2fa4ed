import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const URI_LINE = /^mongodb:\/\/127\.0\.0\.1:\d+$/;

export interface EmbeddedProcess {
  readonly child: ChildProcess;
  readonly uri: string;
  /** Everything the process wrote to stderr so far, for failure messages. */
  stderr(): string;
}

/**
 * Starts the store CLI as a separate process (on a free port unless `port` is given) and resolves once it printed the
 * line with its URI, i.e. once it accepts connections.
 */
export async function spawnEmbeddedStore(
  dbPath: string,
  { startTimeoutMs = 60_000, port = 0 } = {},
): Promise<EmbeddedProcess> {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", "src/store/embedded/cli.ts", "--port", String(port), "--dbpath", dbPath],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  let stdout = "";
  const uri = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`store CLI printed no URI within ${startTimeoutMs} ms; stderr:\n${stderr}`));
    }, startTimeoutMs);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      const newline = stdout.indexOf("\n");
      if (newline === -1) return;
      clearTimeout(timer);
      const line = stdout.slice(0, newline).trim();
      if (URI_LINE.test(line)) resolve(line);
      else {
        child.kill("SIGKILL");
        reject(
          new Error(`unexpected first stdout line from the store CLI: ${JSON.stringify(line)}`),
        );
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`store CLI exited (${code ?? signal}) before printing its URI:\n${stderr}`));
    });
  });
  return { child, uri, stderr: () => stderr };
}

/** Kills the process (SIGKILL unless told otherwise) and waits until it is gone. */
export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = "SIGKILL") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.kill(signal);
  await exited;
}
