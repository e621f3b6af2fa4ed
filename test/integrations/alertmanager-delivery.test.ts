import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/http-server.js";
import { useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";
import { toolTestsRun } from "../support/tools.js";

const TOKEN = "alertmanager-delivery-token-0123456789";
const ALERTMANAGER = "prometheus-alertmanager"; // Debian's name for the alertmanager binary

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Debian's Alertmanager, configured like grafana/prometheus/alertmanager.example.yml (bearer token
 * from a file), delivering to the real app over loopback: its own payloads, not hand-written ones.
 */
describe.runIf(toolTestsRun(ALERTMANAGER))("Alertmanager delivering to /hooks/alerts", () => {
  const testApp = useTestApp({ env: { ALERT_WEBHOOK_TOKEN: TOKEN } });
  let http: HttpServer;
  let alertmanager: ChildProcess;
  let workDir = "";
  let api = "";
  let output = "";

  beforeAll(async () => {
    http = createHttpServer(testApp.app.handleNodeRequest);
    const loopgate = await http.listen(0, "127.0.0.1");
    workDir = await mkdtemp(join(tmpdir(), "loopgate-alertmanager-"));
    const tokenFile = join(workDir, "token");
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    const config = join(workDir, "alertmanager.yml");
    await writeFile(
      config,
      [
        "route:",
        "  receiver: loopgate",
        '  group_by: ["alertname", "model"]',
        "  group_wait: 1s",
        "  group_interval: 1s",
        "  repeat_interval: 1h",
        "receivers:",
        "  - name: loopgate",
        "    webhook_configs:",
        `      - url: "http://127.0.0.1:${loopgate.port}/hooks/alerts"`,
        "        send_resolved: true",
        "        http_config:",
        "          authorization:",
        "            type: Bearer",
        `            credentials_file: ${tokenFile}`,
        "",
      ].join("\n"),
    );
    const port = await freePort();
    api = `http://127.0.0.1:${port}/api/v2`;
    alertmanager = spawn(
      ALERTMANAGER,
      [
        `--config.file=${config}`,
        `--storage.path=${join(workDir, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // No gossip port: a single instance, nothing bound outside the test's own ports.
        "--cluster.listen-address=",
        "--log.level=warn",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    alertmanager.stdout?.on("data", (chunk) => {
      output += chunk;
    });
    alertmanager.stderr?.on("data", (chunk) => {
      output += chunk;
    });
    await waitUntil(
      async () => (await fetch(`${api}/status`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000, what: "Alertmanager to start" },
    ).catch(() => {
      throw new Error(`Alertmanager did not start:\n${output}`);
    });
  }, 60_000);

  afterAll(async () => {
    if (alertmanager && alertmanager.exitCode === null) {
      const exited = new Promise((done) => alertmanager.once("exit", done));
      alertmanager.kill("SIGTERM");
      await exited;
    }
    await http?.stop(1000);
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  const trigger = {
    labels: {
      alertname: "LoopgateNegativeFeedbackRetrainRequired",
      job: "loopgate",
      model: "support-bot",
      window: "7d",
      severity: "warning",
      loopgate_metric: "negative_feedback_rate",
      loopgate_action: "retrain",
      loopgate_requirement: "must",
    },
    annotations: {
      summary:
        "Negative feedback rate above 20% over 7 days: retraining required (model support-bot)",
      description: "Negative feedback rate of model support-bot is 31% over the last 7d.",
    },
    generatorURL: "http://prometheus.local:9090/graph",
  };

  async function postAlerts(alerts: unknown[]): Promise<void> {
    const response = await fetch(`${api}/alerts`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(alerts),
    });
    expect(response.status).toBe(200);
  }

  it("stores a retraining request for a firing trigger and records its resolution", async () => {
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    await postAlerts([{ ...trigger, startsAt }]);
    const requests = testApp.store.collections.retrainingRequests;
    await waitUntil(async () => (await requests.countDocuments()) === 1, {
      timeoutMs: 30_000,
      what: "the retraining request",
    }).catch(() => {
      throw new Error(`no retraining request arrived:\n${output}`);
    });
    expect(await requests.findOne({})).toMatchObject({
      source: "alertmanager",
      state: "requested",
      action: "retrain",
      requirement: "must",
      model: "support-bot",
      reason: trigger.annotations.summary,
      startsAt: new Date(startsAt),
      resolvedAt: null,
    });

    const endsAt = new Date(Date.now() - 1000).toISOString();
    await postAlerts([{ ...trigger, startsAt, endsAt }]);
    await waitUntil(async () => (await requests.findOne({}))?.resolvedAt != null, {
      timeoutMs: 30_000,
      what: "the resolved notification",
    });
    expect(await requests.countDocuments()).toBe(1);
    expect(await requests.findOne({})).toMatchObject({ state: "requested" });
  });

  it("records other alerts as incidents", async () => {
    await postAlerts([
      {
        labels: {
          alertname: "LoopgateSafetyFlagRateHigh",
          job: "loopgate",
          model: "support-bot",
          severity: "critical",
        },
        annotations: { summary: "Safety flag rate above 0.5% (model support-bot)" },
        startsAt: new Date(Date.now() - 30_000).toISOString(),
      },
    ]);
    const incidents = testApp.store.collections.incidents;
    await waitUntil(async () => (await incidents.countDocuments()) === 1, {
      timeoutMs: 30_000,
      what: "the incident",
    });
    expect(await incidents.findOne({})).toMatchObject({
      source: "alertmanager",
      status: "firing",
      severity: "critical",
      alertname: "LoopgateSafetyFlagRateHigh",
    });
  });
});
