import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHttpServer, type HttpServer } from "../../src/http-server.js";
import { useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";
import { ALERTMANAGER, type SpawnedTool, startAlertmanager } from "../support/prometheus.js";
import { toolTestsRun } from "../support/tools.js";

const TOKEN = "alertmanager-delivery-token-0123456789";

/**
 * Debian's Alertmanager, configured like grafana/prometheus/alertmanager.example.yml (bearer token
 * from a file), delivering to the real app over loopback: its own payloads, not hand-written ones.
 */
describe.runIf(toolTestsRun(ALERTMANAGER))("Alertmanager delivering to /hooks/alerts", () => {
  const testApp = useTestApp({ env: { ALERT_WEBHOOK_TOKEN: TOKEN } });
  let http: HttpServer;
  let alertmanager: SpawnedTool | undefined;
  let api = "";
  const output = () => alertmanager?.output() ?? "";

  beforeAll(async () => {
    http = createHttpServer(testApp.app.handleNodeRequest);
    const loopgate = await http.listen(0, "127.0.0.1");
    alertmanager = await startAlertmanager({
      webhookUrl: `http://127.0.0.1:${loopgate.port}/hooks/alerts`,
      token: TOKEN,
    });
    api = `${alertmanager.url}/api/v2`;
  }, 60_000);

  afterAll(async () => {
    await alertmanager?.stop();
    await http?.stop(1000);
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
      throw new Error(`no retraining request arrived:\n${output()}`);
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
