import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { waitUntil } from "./poll.js";

/**
 * Debian's Prometheus and Alertmanager (packages `prometheus`, `prometheus-alertmanager`), started
 * by tests on free loopback ports, each in a temporary directory removed when it stops.
 */
export interface SpawnedTool {
  /** Base URL, e.g. http://127.0.0.1:9090 */
  readonly url: string;
  /** What the process printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

async function spawnTool(
  command: string,
  args: (workDir: string, port: number) => Promise<string[]>,
  readyPath: string,
): Promise<SpawnedTool> {
  const workDir = await mkdtemp(join(tmpdir(), `loopgate-${command}-`));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let output = "";
  const child: ChildProcess = spawn(command, await args(workDir, port), {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((done) => child.once("exit", done));
      child.kill("SIGTERM");
      await exited;
    }
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    await waitUntil(
      async () => (await fetch(`${url}${readyPath}`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000, what: `${command} to start` },
    );
  } catch {
    await stop();
    throw new Error(`${command} did not start:\n${output}`);
  }
  return { url, output: () => output, stop };
}

export interface PrometheusOptions {
  /** host:port targets scraped as job `loopgate`. */
  readonly targets: readonly string[];
  readonly ruleFiles?: readonly string[];
  /** Alertmanager base URL that receives the alerts. */
  readonly alertmanager?: string;
  readonly scrapeInterval?: string;
  readonly evaluationInterval?: string;
}

export function startPrometheus(options: PrometheusOptions): Promise<SpawnedTool> {
  return spawnTool(
    "prometheus",
    async (workDir, port) => {
      const config = join(workDir, "prometheus.yml");
      const lines = [
        `global: { scrape_interval: ${options.scrapeInterval ?? "1s"}, evaluation_interval: ${options.evaluationInterval ?? "1s"} }`,
        `rule_files: [${(options.ruleFiles ?? []).map((file) => JSON.stringify(file)).join(", ")}]`,
        "scrape_configs:",
        "  - job_name: loopgate",
        `    static_configs: [{ targets: [${options.targets.map((target) => JSON.stringify(target)).join(", ")}] }]`,
      ];
      if (options.alertmanager) {
        const target = new URL(options.alertmanager).host;
        lines.push(
          "alerting:",
          "  alertmanagers:",
          `    - static_configs: [{ targets: ["${target}"] }]`,
        );
      }
      await writeFile(config, `${lines.join("\n")}\n`);
      return [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(workDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ];
    },
    "/-/ready",
  );
}

export interface AlertmanagerOptions {
  /** Where the webhook receiver posts, e.g. http://127.0.0.1:4000/hooks/alerts */
  readonly webhookUrl: string;
  /** Bearer token, written to a credentials file as in alertmanager.example.yml. */
  readonly token: string;
  readonly groupBy?: readonly string[];
}

/** Debian's name for the alertmanager binary. */
export const ALERTMANAGER = "prometheus-alertmanager";

export function startAlertmanager(options: AlertmanagerOptions): Promise<SpawnedTool> {
  return spawnTool(
    ALERTMANAGER,
    async (workDir, port) => {
      const tokenFile = join(workDir, "token");
      await writeFile(tokenFile, `${options.token}\n`, { mode: 0o600 });
      const config = join(workDir, "alertmanager.yml");
      await writeFile(
        config,
        [
          "route:",
          "  receiver: loopgate",
          `  group_by: ${JSON.stringify(options.groupBy ?? ["alertname", "model"])}`,
          "  group_wait: 1s",
          "  group_interval: 1s",
          "  repeat_interval: 1h",
          "receivers:",
          "  - name: loopgate",
          "    webhook_configs:",
          `      - url: "${options.webhookUrl}"`,
          "        send_resolved: true",
          "        http_config:",
          "          authorization:",
          "            type: Bearer",
          `            credentials_file: ${tokenFile}`,
          "",
        ].join("\n"),
      );
      return [
        `--config.file=${config}`,
        `--storage.path=${join(workDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // No gossip port: a single instance, nothing bound outside the test's own ports.
        "--cluster.listen-address=",
        "--log.level=warn",
      ];
    },
    "/api/v2/status",
  );
}
