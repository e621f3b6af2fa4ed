import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createHttpServer, type HttpServer } from "../../src/http-server.js";
import {
  PROMETHEUS_DATASOURCE_UID,
  thresholdSteps,
} from "../../src/observability/grafana/dashboards.js";
import { DEFAULT_RUNBOOK_BASE } from "../../src/observability/grafana/generate.js";
import { alertingProvisioning } from "../../src/observability/grafana/provisioning.js";
import { allThresholds, monitoringThresholds } from "../../src/observability/thresholds.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { committedDashboards, panelQueries } from "../support/dashboards.js";
import { waitUntil } from "../support/poll.js";
import { type SpawnedTool, startPrometheus } from "../support/prometheus.js";
import { runTool, toolTestsRun } from "../support/tools.js";

const root = resolve(import.meta.dirname, "../..");

describe("Grafana dashboards", () => {
  it("are four, each with stable uids, unique panel ids, refIds and the provisioned datasource", async () => {
    const dashboards = await committedDashboards();
    expect(Object.values(dashboards).map((dashboard) => dashboard.title)).toEqual([
      "Loopgate / Feedback overview",
      "Loopgate / Quality and safety",
      "Loopgate / Retraining and model improvement",
      "Loopgate / Gateway health",
    ]);
    for (const dashboard of Object.values(dashboards)) {
      expect(dashboard.uid).toMatch(/^loopgate-[a-z-]+$/);
      expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
      const ids = dashboard.panels.map((panel) => panel.id);
      expect(ids.every((id) => typeof id === "number")).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      for (const panel of dashboard.panels) {
        expect(panel.gridPos!.x + panel.gridPos!.w).toBeLessThanOrEqual(24);
        if (panel.type === "row") continue;
        expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
        const refIds = panel.targets!.map((target) => target.refId);
        expect(new Set(refIds).size, panel.title).toBe(refIds.length);
        for (const target of panel.targets!) {
          expect(target.refId).toMatch(/^[A-Z]$/);
          expect(target.datasource?.uid).toBe(PROMETHEUS_DATASOURCE_UID);
          expect(target.expr).toBeTruthy();
          // A window gauge without a window matcher would mix 1h, 24h and 7d in one panel.
          for (const selector of target.expr!.match(/job_model_window:[a-z_]+:max\{[^}]*\}/g) ??
            []) {
            expect(selector, panel.title).toMatch(/window="/);
          }
        }
      }
    }
  });

  it("colour the seed's rates with its targets and alert thresholds", async () => {
    const overview = (await committedDashboards())["loopgate-feedback-overview.json"]!;
    const stepsOf = (title: string) =>
      overview.panels.find((panel) => panel.title === title)?.fieldConfig?.defaults?.thresholds
        ?.steps;
    expect(stepsOf("Positive feedback rate ($window)")).toEqual([
      { value: null, color: "red" },
      { value: 0.7, color: "yellow" },
      { value: 0.8, color: "green" },
    ]);
    expect(stepsOf("Safety flag rate ($window)")).toEqual([
      { value: null, color: "green" },
      { value: 0.001, color: "yellow" },
      { value: 0.005, color: "red" },
    ]);
    for (const threshold of monitoringThresholds.slice(0, 4)) {
      expect(stepsOf(`${threshold.title} ($window)`)).toEqual(
        JSON.parse(JSON.stringify(thresholdSteps(threshold))),
      );
    }
  });
});

describe("Grafana provisioning", () => {
  it("points dashboards and alert rules at the provisioned datasource and alerts at /hooks/alerts", async () => {
    const datasource = parse(
      await readFile(resolve(root, "grafana/provisioning/datasources/loopgate.yaml"), "utf8"),
    );
    expect(datasource.datasources[0]).toMatchObject({
      type: "prometheus",
      uid: PROMETHEUS_DATASOURCE_UID,
    });
    const alerting = parse(
      await readFile(resolve(root, "grafana/provisioning/alerting/loopgate.yaml"), "utf8"),
    );
    expect(alerting.contactPoints[0].receivers[0]).toMatchObject({
      type: "webhook",
      settings: {
        url: `\${LOOPGATE_URL}/hooks/alerts`,
        authorization_scheme: "Bearer",
        authorization_credentials: `\${ALERT_WEBHOOK_TOKEN}`,
      },
    });
    const rules = alerting.groups[0].rules as Array<{
      title: string;
      labels: Record<string, string>;
      annotations: Record<string, string>;
      data: Array<{ datasourceUid: string; model: { expr?: string; expression?: string } }>;
    }>;
    expect(rules.map((rule) => rule.title)).toEqual(allThresholds.map((t) => t.alert));
    for (const rule of rules) {
      expect(rule.data[0]!.datasourceUid).toBe(PROMETHEUS_DATASOURCE_UID);
      // Grafana would substitute environment variables for a single `$` (empty strings).
      const text = JSON.stringify([rule.annotations, rule.data]);
      expect(text.replaceAll("$$", "")).not.toContain("$");
      expect(rule.data[1]!.model.expression).toMatch(/^\$\$A (<|<=|>|>=) [\d.]+$/);
    }
    const retrain = rules.find((rule) => rule.title === "LoopgateNegativeFeedbackRetrainRequired");
    expect(retrain?.labels).toMatchObject({
      loopgate_action: "retrain",
      loopgate_requirement: "must",
    });
  });
});

describe("example configurations", () => {
  it.runIf(toolTestsRun("amtool"))("the Alertmanager example passes amtool check-config", () => {
    const run = runTool("amtool", [
      "check-config",
      resolve(root, "grafana/prometheus/alertmanager.example.yml"),
    ]);
    expect(run.stdout + run.stderr).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  it.runIf(toolTestsRun("promtool"))("the Prometheus example passes promtool check config", () => {
    const run = runTool("promtool", [
      "check",
      "config",
      resolve(root, "grafana/prometheus/prometheus.example.yml"),
    ]);
    expect(run.status, run.stdout + run.stderr).toBe(0);
  });
});

/** Waits, and on timeout shows what Prometheus logged. */
async function pollUntil(
  condition: () => Promise<boolean>,
  options: { timeoutMs: number; message: () => string },
): Promise<void> {
  try {
    await waitUntil(condition, { timeoutMs: options.timeoutMs, what: "the condition" });
  } catch {
    throw new Error(options.message());
  }
}

/**
 * Debian's Prometheus, scraping the real app on loopback with Loopgate's rules loaded: every
 * panel's and every Grafana rule's PromQL must parse; the gateway's own series must already
 * return data.
 */
describe.runIf(toolTestsRun("prometheus"))("every query against a real Prometheus", () => {
  const testApp = useTestApp();
  let http: HttpServer;
  let prometheus: SpawnedTool | undefined;
  let base = "";
  const output = () => prometheus?.output() ?? "";

  beforeAll(async () => {
    http = createHttpServer(testApp.app.handleNodeRequest);
    const target = await http.listen(0, "127.0.0.1");
    await recordInteraction(testApp);
    prometheus = await startPrometheus({
      targets: [`127.0.0.1:${target.port}`],
      ruleFiles: [resolve(root, "grafana/prometheus/loopgate.rules.yml")],
    });
    base = prometheus.url;
  }, 60_000);

  afterAll(async () => {
    await prometheus?.stop();
    await http?.stop(1000);
  });

  async function instant(
    expr: string,
  ): Promise<{ status: string; error?: string; data?: { result: unknown[] } }> {
    const response = await fetch(`${base}/api/v1/query`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ query: expr }),
    });
    return (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: unknown[] };
    };
  }

  it("parses every dashboard panel's query", async () => {
    const queries = await panelQueries();
    expect(queries.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const { dashboard, panel, expr } of queries) {
      const result = await instant(expr);
      if (result.status !== "success") failures.push(`${dashboard} / ${panel}: ${result.error}`);
    }
    expect(failures).toEqual([]);
  });

  it("parses every Grafana-managed alert rule's query", async () => {
    const provisioning = alertingProvisioning(DEFAULT_RUNBOOK_BASE);
    for (const rule of provisioning.groups[0]!.rules) {
      const expr = String(rule.data[0]!.model.expr).replaceAll("$$", "$");
      const result = await instant(expr);
      expect(result.status, `${rule.title}: ${result.error}`).toBe("success");
    }
  });

  it("returns data for the gateway's panels once Loopgate has been scraped", async () => {
    await pollUntil(
      async () => ((await instant('up{job="loopgate"} == 1')).data?.result.length ?? 0) > 0,
      { timeoutMs: 30_000, message: () => `Loopgate was never scraped:\n${output()}` },
    );
    const gateway = (await panelQueries()).filter(
      ({ dashboard, panel }) =>
        dashboard === "Loopgate / Gateway health" &&
        ["Operations", "Resident memory", "Event loop lag (p99)", "CPU"].includes(panel),
    );
    expect(gateway).toHaveLength(4);
    await pollUntil(
      async () => {
        for (const { expr } of gateway) {
          if (((await instant(expr)).data?.result.length ?? 0) === 0) return false;
        }
        return true;
      },
      { timeoutMs: 30_000, message: () => "a gateway panel returned no data" },
    );
  });
});
