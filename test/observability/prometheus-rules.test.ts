import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_RUNBOOK_BASE, generatedFiles } from "../../src/observability/grafana/generate.js";
import { allThresholds, retrainingTriggers } from "../../src/observability/thresholds.js";
import { runTool, toolTestsRun } from "../support/tools.js";

const root = resolve(import.meta.dirname, "../..");
const rulesPath = resolve(root, "grafana/prometheus/loopgate.rules.yml");
const unitTestsPath = resolve(root, "grafana/prometheus/loopgate.rules.test.yml");

interface RulesDoc {
  groups: Array<{
    name: string;
    rules: Array<{
      alert?: string;
      record?: string;
      expr: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>;
  }>;
}
interface UnitTestsDoc {
  tests: Array<{
    alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }>;
  }>;
}

const alertsOf = (doc: RulesDoc) =>
  doc.groups.flatMap((group) => group.rules).filter((r) => r.alert);

describe("generated Grafana and Prometheus files", () => {
  it("match what src/observability/thresholds.ts generates (run `npm run grafana:generate`)", async () => {
    for (const [path, content] of generatedFiles({ runbookBase: DEFAULT_RUNBOOK_BASE })) {
      const committed = await readFile(resolve(root, path), "utf8").catch(() => "(missing)");
      expect(committed, `${path} drifted from the code`).toBe(content);
    }
  });
});

describe("Prometheus rules", () => {
  it("carry the seed's thresholds, a severity, a summary, a description with the value and a runbook section", async () => {
    const doc = parse(await readFile(rulesPath, "utf8")) as RulesDoc;
    const alerts = alertsOf(doc);
    const runbooks = await readFile(resolve(root, "docs/runbooks.md"), "utf8");
    const anchors = new Set(
      [...runbooks.matchAll(/^##+ (.+)$/gm)].map((match) =>
        match[1]!
          .toLowerCase()
          .replace(/[^a-z0-9 -]/g, "")
          .replace(/ /g, "-"),
      ),
    );
    for (const threshold of allThresholds) {
      const rule = alerts.find((alert) => alert.alert === threshold.alert);
      expect(rule, threshold.alert).toBeDefined();
      expect(rule!.expr).toContain(String(threshold.threshold));
      expect(rule!.labels?.severity).toMatch(/^(critical|warning|info)$/);
    }
    // The seed's numbers, spelled out once more so that an edit of thresholds.ts that changes
    // them does not pass unnoticed.
    const exprOf = (name: string) => alerts.find((alert) => alert.alert === name)?.expr ?? "";
    expect(exprOf("LoopgatePositiveFeedbackRateLow")).toMatch(/ratio:max\{window="24h"\} < 0\.7\n/);
    expect(exprOf("LoopgateCorrectionRateHigh")).toMatch(/ > 0\.2\n/);
    expect(exprOf("LoopgateSafetyFlagRateHigh")).toMatch(/ > 0\.005\n/);
    expect(exprOf("LoopgateFeedbackCollectionRateLow")).toMatch(/ < 0\.05\n/);
    expect(exprOf("LoopgateTimeToImprovementHigh")).toMatch(/ > 1209600$/);
    expect(exprOf("LoopgateNoImprovementAfterRetraining")).toMatch(/ <= 0$/);
    expect(exprOf("LoopgateNegativeFeedbackRetrainRequired")).toMatch(
      /negative_feedback_ratio:max\{window="7d"\} > 0\.2\n/,
    );
    expect(exprOf("LoopgateKnowledgeGapsRagUpdateRequired")).toMatch(/knowledge_gaps_7d:max > 10$/);
    expect(exprOf("LoopgatePreferencePairsRetrainSuggested")).toMatch(/ >= 5000$/);

    for (const rule of alerts) {
      expect(rule.for, rule.alert).toMatch(/^\d+[mh]$/);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toMatch(/\{\{ \$value/);
      const anchor = rule.annotations?.runbook_url?.split("#")[1];
      expect(anchors.has(anchor ?? ""), `${rule.alert}: runbook anchor #${anchor}`).toBe(true);
    }
    const triggers = alerts.filter((alert) => alert.labels?.loopgate_action);
    expect(triggers.map((alert) => alert.alert).sort()).toEqual(
      retrainingTriggers.map((trigger) => trigger.alert).sort(),
    );
  });

  it("each alert has a promtool unit test that sees it fire and stay silent", async () => {
    const rules = parse(await readFile(rulesPath, "utf8")) as RulesDoc;
    const tests = parse(await readFile(unitTestsPath, "utf8")) as UnitTestsDoc;
    const cases = tests.tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const { alert } of alertsOf(rules)) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} fires in some test`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} is silent in some test`,
      ).toBe(true);
    }
  });

  it.runIf(toolTestsRun("promtool"))("pass `promtool check rules` with every lint", () => {
    const run = runTool("promtool", ["check", "rules", "--lint=all", "--lint-fatal", rulesPath]);
    expect(run.stderr + run.stdout).toContain("SUCCESS");
    expect(run.status).toBe(0);
  });

  it.runIf(toolTestsRun("promtool"))(
    "pass their promtool unit tests (firing, pending, silent, low volume, resolved)",
    () => {
      const run = runTool("promtool", ["test", "rules", unitTestsPath]);
      expect(run.stdout + run.stderr).toContain("SUCCESS");
      expect(run.status).toBe(0);
    },
  );
});
