import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createHttpServer } from "../../src/http-server.js";
import { storedCounts, useTestApp } from "../support/app.js";

const TOKEN = "alert-webhook-token-0123456789abcdef";
const testApp = useTestApp({ env: { ALERT_WEBHOOK_TOKEN: TOKEN } });
const offApp = useTestApp();

/** Alertmanager 0.25's webhook body (notify/webhook: version "4"), as sent for one group. */
function alertmanagerPayload(
  alerts: Array<Record<string, unknown>>,
  status: "firing" | "resolved" = "firing",
) {
  return {
    receiver: "loopgate",
    status,
    alerts,
    groupLabels: { alertname: "LoopgateNegativeFeedbackRetrainRequired" },
    commonLabels: { alertname: "LoopgateNegativeFeedbackRetrainRequired", job: "loopgate" },
    commonAnnotations: {},
    externalURL: "http://alertmanager.local:9093",
    version: "4",
    groupKey: '{}:{alertname="LoopgateNegativeFeedbackRetrainRequired"}',
    truncatedAlerts: 0,
  };
}

const negativeTrigger = {
  status: "firing",
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
    description:
      "Negative feedback rate of model support-bot is 31% over the last 7d (alert above 20%).",
    runbook_url: "docs/runbooks.md#negative-feedback-retrain-required",
  },
  startsAt: "2026-11-20T10:00:00.123456789Z",
  endsAt: "0001-01-01T00:00:00Z",
  generatorURL:
    "http://prometheus.local:9090/graph?g0.expr=job_model_window%3Aloopgate_negative_feedback_ratio%3Amax&g0.tab=1",
  fingerprint: "4f1c2b9e8d7a6b5c",
};

const safetyAlert = {
  status: "firing",
  labels: {
    alertname: "LoopgateSafetyFlagRateHigh",
    job: "loopgate",
    model: "support-bot",
    window: "24h",
    severity: "critical",
    loopgate_metric: "safety_flag_rate",
  },
  annotations: {
    summary: "Safety flag rate above 0.5% (model support-bot)",
    description: "Safety flag rate of model support-bot is 0.8% over the last 24h.",
    runbook_url: "docs/runbooks.md#safety-flag-rate-high",
  },
  startsAt: "2026-11-21T08:30:00Z",
  endsAt: "0001-01-01T00:00:00Z",
  generatorURL: "http://prometheus.local:9090/graph?g0.expr=x",
  fingerprint: "0a1b2c3d4e5f6789",
};

/** Grafana unified alerting's default webhook body (receivers/webhook: version "1", orgId). */
const grafanaPayload = {
  receiver: "loopgate",
  status: "firing",
  orgId: 1,
  alerts: [
    {
      status: "firing",
      labels: {
        alertname: "LoopgateKnowledgeGapsRagUpdateRequired",
        grafana_folder: "Loopgate",
        model: "docs-bot",
        severity: "warning",
        loopgate_metric: "knowledge_gaps",
        loopgate_action: "rag_update",
        loopgate_requirement: "must",
      },
      annotations: {
        summary: "More than 10 knowledge-gap feedback items in 7 days: RAG index update required",
        runbook_url: "docs/runbooks.md#knowledge-gaps-rag-update-required",
      },
      startsAt: "2026-11-22T12:00:00Z",
      endsAt: "0001-01-01T00:00:00Z",
      generatorURL: "http://grafana.local:3000/alerting/grafana/loopgate-knowledge-gaps/view",
      fingerprint: "c6eadffa33fcdf37",
      silenceURL: "http://grafana.local:3000/alerting/silence/new?alertmanager=grafana",
      dashboardURL: "",
      panelURL: "",
      values: { A: 14, C: 1 },
      valueString: "[ var='A' labels={model=docs-bot} value=14 ], [ var='C' value=1 ]",
    },
  ],
  groupLabels: { alertname: "LoopgateKnowledgeGapsRagUpdateRequired" },
  commonLabels: { alertname: "LoopgateKnowledgeGapsRagUpdateRequired" },
  commonAnnotations: {},
  externalURL: "http://grafana.local:3000/",
  version: "1",
  groupKey: '{}/{}:{alertname="LoopgateKnowledgeGapsRagUpdateRequired"}',
  truncatedAlerts: 0,
  title: "[FIRING:1] LoopgateKnowledgeGapsRagUpdateRequired",
  state: "alerting",
  message: "**Firing**",
};

function post(body: unknown, headers: Record<string, string> = {}, app = testApp) {
  return app.app.fetch("http://localhost/hooks/alerts", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("/hooks/alerts", () => {
  it("turns an Alertmanager retraining trigger into one retraining request per firing period", async () => {
    const first = await post(alertmanagerPayload([negativeTrigger]));
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({
      status: "stored",
      received: 1,
      retrainingRequestsCreated: 1,
      incidentsCreated: 0,
    });
    // Alertmanager repeats the notification every repeat_interval and retries failures.
    const repeat = await post(alertmanagerPayload([negativeTrigger]));
    expect(await repeat.json()).toMatchObject({
      retrainingRequestsCreated: 0,
      retrainingRequestsUpdated: 1,
    });
    const requests = await testApp.store.collections.retrainingRequests
      .find({ fingerprint: negativeTrigger.fingerprint })
      .toArray();
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({
      source: "alertmanager",
      state: "requested",
      action: "retrain",
      requirement: "must",
      model: "support-bot",
      alertname: "LoopgateNegativeFeedbackRetrainRequired",
      reason: negativeTrigger.annotations.summary,
      labels: negativeTrigger.labels,
      annotations: negativeTrigger.annotations,
      startsAt: new Date("2026-11-20T10:00:00.123Z"),
      resolvedAt: null,
      notifications: 2,
    });
    expect(await testApp.store.collections.incidents.countDocuments()).toBe(0);

    // Resolution is recorded; the request stays for the retraining run.
    const resolvedAt = "2026-11-21T10:00:00Z";
    const resolved = await post(
      alertmanagerPayload(
        [{ ...negativeTrigger, status: "resolved", endsAt: resolvedAt }],
        "resolved",
      ),
    );
    expect(resolved.status).toBe(200);
    const after = await testApp.store.collections.retrainingRequests.findOne({
      fingerprint: negativeTrigger.fingerprint,
    });
    expect(after).toMatchObject({ state: "requested", resolvedAt: new Date(resolvedAt) });

    // The same alert firing again later is a new firing period: a new request.
    await post(alertmanagerPayload([{ ...negativeTrigger, startsAt: "2026-11-25T09:00:00Z" }]));
    expect(
      await testApp.store.collections.retrainingRequests.countDocuments({
        fingerprint: negativeTrigger.fingerprint,
      }),
    ).toBe(2);
  });

  it("records other alerts as incidents that resolved notifications close, and a late firing notification does not reopen", async () => {
    expect((await post(alertmanagerPayload([safetyAlert]))).status).toBe(200);
    const incidents = testApp.store.collections.incidents;
    expect(await incidents.findOne({ fingerprint: safetyAlert.fingerprint })).toMatchObject({
      status: "firing",
      severity: "critical",
      summary: safetyAlert.annotations.summary,
      model: "support-bot",
      resolvedAt: null,
      notifications: 1,
    });
    const endsAt = "2026-11-21T09:45:00Z";
    await post(alertmanagerPayload([{ ...safetyAlert, status: "resolved", endsAt }], "resolved"));
    await post(alertmanagerPayload([safetyAlert])); // delayed retry of the firing notification
    expect(await incidents.findOne({ fingerprint: safetyAlert.fingerprint })).toMatchObject({
      status: "resolved",
      resolvedAt: new Date(endsAt),
      notifications: 3,
    });
    expect(
      await testApp.store.collections.retrainingRequests.countDocuments({
        fingerprint: safetyAlert.fingerprint,
      }),
    ).toBe(0);
  });

  it("accepts Grafana's payload and keeps its evaluated values", async () => {
    const response = await post(grafanaPayload);
    expect(response.status).toBe(200);
    expect(
      await testApp.store.collections.retrainingRequests.findOne({
        fingerprint: "c6eadffa33fcdf37",
      }),
    ).toMatchObject({
      source: "grafana",
      state: "requested",
      action: "rag_update",
      requirement: "must",
      model: "docs-bot",
      values: { A: 14, C: 1 },
    });
  });

  it("stores a group of alerts with one write per collection", async () => {
    const before = testApp.commands.length;
    const alerts = [0, 1, 2].map((index) => ({
      ...safetyAlert,
      fingerprint: `feed000000000${index}`,
    }));
    const response = await post(
      alertmanagerPayload([...alerts, { ...negativeTrigger, fingerprint: "feed0000000009" }]),
    );
    expect(await response.json()).toMatchObject({
      incidentsCreated: 3,
      retrainingRequestsCreated: 1,
    });
    const writes = testApp.commands
      .slice(before)
      .filter((command) => command.commandName === "update");
    expect(writes.map((command) => command.command.update).sort()).toEqual([
      "incidents",
      "retrainingRequests",
    ]);
  });

  it("refuses unauthenticated, malformed, oversized and non-JSON notifications and stores nothing", async () => {
    const before = await storedCounts(testApp);
    const good = alertmanagerPayload([{ ...safetyAlert, fingerprint: "beef00000000000a" }]);
    const cases: Array<[Response, number]> = [
      [await post(good, { authorization: "" }), 401],
      [await post(good, { authorization: `Bearer ${TOKEN}x` }), 401],
      [await post(good, { authorization: `Basic ${TOKEN}` }), 401],
      [await post("{not json"), 400],
      [await post({ ...good, version: "3" }), 400],
      [await post({ ...good, alerts: [] }), 400],
      [await post({ ...good, alerts: [{ ...safetyAlert, fingerprint: undefined }] }), 400],
      [await post({ ...good, alerts: [{ ...safetyAlert, startsAt: "yesterday" }] }), 400],
      [
        await post({
          ...good,
          alerts: [{ ...safetyAlert, labels: { ...safetyAlert.labels, $where: "x" } }],
        }),
        400,
      ],
      // One bad alert refuses the whole group: the good one beside it is not stored either.
      [
        await post({
          ...good,
          alerts: [
            { ...safetyAlert, fingerprint: "beef00000000000b" },
            {
              ...negativeTrigger,
              labels: { ...negativeTrigger.labels, loopgate_action: "reboot" },
            },
          ],
        }),
        400,
      ],
      [await post({ ...grafanaPayload, orgId: undefined }), 400],
      [await post(good, { "content-type": "text/plain" }), 415],
      [await post({ ...good, padding: "x".repeat(1024 * 1024) }), 413],
    ];
    for (const [response, status] of cases) expect(response.status).toBe(status);
    const unauthenticated = cases[0]![0];
    expect(unauthenticated.headers.get("www-authenticate")).toBe("Bearer");
    const malformed = (await cases[9]![0].json()) as { problems: string[] };
    expect(malformed.problems).toEqual([
      "alerts.1.labels.loopgate_action: must be one of retrain, rag_update",
    ]);
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it("answers only POST", async () => {
    const response = await testApp.app.fetch("http://localhost/hooks/alerts", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(response.status).toBe(405);
  });

  it("is off, and says so, while ALERT_WEBHOOK_TOKEN is unset", async () => {
    const before = await storedCounts(offApp);
    const response = await post(alertmanagerPayload([negativeTrigger]), {}, offApp);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: "The alert webhook is off: set ALERT_WEBHOOK_TOKEN to turn it on.",
    });
    expect(await storedCounts(offApp)).toEqual(before);
  });

  it("refuses a guessable ALERT_WEBHOOK_TOKEN at start", () => {
    expect(() => loadConfig({ ALERT_WEBHOOK_TOKEN: "short" })).toThrow(ConfigError);
    expect(() => loadConfig({ ALERT_WEBHOOK_TOKEN: "short" })).toThrow(
      "ALERT_WEBHOOK_TOKEN: must be at least 24 characters",
    );
  });

  it("works over a real HTTP connection and cuts a chunked body past the limit", async () => {
    const http = createHttpServer(testApp.app.handleNodeRequest);
    const address = await http.listen(0, "127.0.0.1");
    try {
      const url = `http://127.0.0.1:${address.port}/hooks/alerts`;
      const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
      const ok = await fetch(url, {
        method: "POST",
        headers,
        body: JSON.stringify(
          alertmanagerPayload([{ ...safetyAlert, fingerprint: "cafe000000000001" }]),
        ),
      });
      expect(ok.status).toBe(200);
      // A streamed body has no Content-Length: the limit is enforced while reading.
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= 2 * 1024 * 1024) return controller.close();
          sent += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      const big = await fetch(url, {
        method: "POST",
        headers,
        body: stream,
        duplex: "half",
      } as RequestInit);
      expect(big.status).toBe(413);
    } finally {
      await http.stop(1000);
    }
  });
});

const LIST_REQUESTS = /* GraphQL */ `
  query Requests($action: RetrainingAction, $modelId: String, $first: Int, $after: String) {
    retrainingRequests(action: $action, modelId: $modelId, first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges {
        node {
          id source alertName modelId fingerprint startsAt resolvedAt notifications
          state action requirement reason labels annotations values
        }
      }
    }
  }
`;

describe("retraining requests and incidents in GraphQL", () => {
  const graphApp = useTestApp({ env: { ALERT_WEBHOOK_TOKEN: TOKEN } });

  it("lists what the webhook stored, filtered and paged, to READ keys only", async () => {
    const send = (body: unknown) => post(body, {}, graphApp);
    await send(alertmanagerPayload([negativeTrigger]));
    await send(alertmanagerPayload([{ ...negativeTrigger, startsAt: "2026-11-26T09:00:00Z" }]));
    await send(grafanaPayload);
    await send(alertmanagerPayload([safetyAlert]));
    await send(
      alertmanagerPayload(
        [{ ...safetyAlert, status: "resolved", endsAt: "2026-11-21T09:45:00Z" }],
        "resolved",
      ),
    );

    const read = await graphApp.key(["read"]);
    const all = await graphApp.gql(LIST_REQUESTS, {}, read);
    expect(all.errors).toBeUndefined();
    const connection = all.data!.retrainingRequests;
    expect(connection.totalCount).toBe(3);
    // Newest firing period first.
    expect(
      connection.edges.map((edge: { node: { startsAt: string } }) => edge.node.startsAt),
    ).toEqual(["2026-11-26T09:00:00.000Z", "2026-11-22T12:00:00.000Z", "2026-11-20T10:00:00.123Z"]);
    expect(connection.edges[1].node).toMatchObject({
      source: "GRAFANA",
      action: "RAG_UPDATE",
      requirement: "MUST",
      state: "REQUESTED",
      modelId: "docs-bot",
      values: { A: 14, C: 1 },
    });

    const retrain = await graphApp.gql(LIST_REQUESTS, { action: "RETRAIN", first: 1 }, read);
    const page = retrain.data!.retrainingRequests;
    expect(page.totalCount).toBe(2);
    expect(page.edges).toHaveLength(1);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await graphApp.gql(
      LIST_REQUESTS,
      { action: "RETRAIN", first: 1, after: page.pageInfo.endCursor },
      read,
    );
    expect(next.data!.retrainingRequests.edges[0].node).toMatchObject({
      startsAt: "2026-11-20T10:00:00.123Z",
      reason: negativeTrigger.annotations.summary,
      notifications: 1,
    });
    expect(next.data!.retrainingRequests.pageInfo.hasNextPage).toBe(false);

    const incidents = await graphApp.gql(
      /* GraphQL */ `{ incidents(status: RESOLVED) { totalCount edges { node { alertName status severity summary resolvedAt } } } }`,
      {},
      read,
    );
    expect(incidents.data!.incidents).toEqual({
      totalCount: 1,
      edges: [
        {
          node: {
            alertName: "LoopgateSafetyFlagRateHigh",
            status: "RESOLVED",
            severity: "critical",
            summary: safetyAlert.annotations.summary,
            resolvedAt: "2026-11-21T09:45:00.000Z",
          },
        },
      ],
    });

    const ingestOnly = await graphApp.gql(LIST_REQUESTS, {}, await graphApp.key(["ingest"]));
    expect(ingestOnly.data?.retrainingRequests ?? null).toBeNull();
    expect(ingestOnly.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});
