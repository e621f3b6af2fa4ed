import { allThresholds, type Threshold } from "../thresholds.js";
import { PROMETHEUS_DATASOURCE_UID } from "./dashboards.js";
import { runbookUrl } from "./format.js";
import { alertDescription, alertLabelsOf, alertValueExpr } from "./prometheus-rules.js";

/** Folder (title) and uid of the provisioned dashboards and Grafana-managed alert rules. */
export const GRAFANA_FOLDER = "Loopgate";
export const GRAFANA_FOLDER_UID = "loopgate";
/** Where the Grafana container finds grafana/dashboards/ (mount it there). */
export const DASHBOARDS_MOUNT = "/var/lib/grafana/dashboards/loopgate";
export const CONTACT_POINT = "loopgate";

/** A reference to an environment variable of Grafana's process, as provisioning files write it. */
export const envRef = (name: string) => `\${${name}}`;

/**
 * Grafana interpolates `$NAME` in every value of a provisioning file; templates and expressions
 * that need a literal `$` write `$$`.
 */
export function escapeDollars<T>(value: T): T {
  if (typeof value === "string") return value.replaceAll("$", "$$$$") as T;
  if (Array.isArray(value)) return value.map(escapeDollars) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, inner]) => [key, escapeDollars(inner)]),
    ) as T;
  }
  return value;
}

export function datasourceProvisioning() {
  return {
    apiVersion: 1,
    datasources: [
      {
        name: "Loopgate Prometheus",
        type: "prometheus",
        access: "proxy",
        uid: PROMETHEUS_DATASOURCE_UID,
        url: envRef("PROMETHEUS_URL"),
        isDefault: false,
        editable: false,
        jsonData: { httpMethod: "POST", timeInterval: "15s", prometheusType: "Prometheus" },
      },
    ],
  };
}

export function dashboardProvisioning() {
  return {
    apiVersion: 1,
    providers: [
      {
        name: "loopgate",
        orgId: 1,
        folder: GRAFANA_FOLDER,
        folderUid: GRAFANA_FOLDER_UID,
        type: "file",
        disableDeletion: false,
        allowUiUpdates: false,
        updateIntervalSeconds: 60,
        options: { path: DASHBOARDS_MOUNT, foldersFromFilesStructure: false },
      },
    ],
  };
}

const humanizeFn: Record<Threshold["unit"], string> = {
  ratio: "humanizePercentage",
  count: "humanize",
  seconds: "humanizeDuration",
};

/** The same alert as the Prometheus rule, evaluated by Grafana: query A, then math C. */
function grafanaRule(threshold: Threshold, runbookBase: string) {
  const operator =
    threshold.direction === "above"
      ? threshold.inclusive
        ? ">="
        : ">"
      : threshold.inclusive
        ? "<="
        : "<";
  return {
    uid: `loopgate-${threshold.id.replaceAll("_", "-")}`,
    title: threshold.alert,
    condition: "C",
    data: [
      {
        refId: "A",
        relativeTimeRange: { from: 600, to: 0 },
        datasourceUid: PROMETHEUS_DATASOURCE_UID,
        model: { refId: "A", expr: alertValueExpr(threshold, false), instant: true, range: false },
      },
      {
        refId: "C",
        relativeTimeRange: { from: 0, to: 0 },
        datasourceUid: "__expr__",
        model: {
          refId: "C",
          type: "math",
          expression: `$A ${operator} ${threshold.threshold}`,
          datasource: { type: "__expr__", uid: "__expr__" },
        },
      },
    ],
    // The volume guard removes series with too few items: no data is a healthy state here.
    noDataState: "OK",
    execErrState: "Error",
    for: threshold.for,
    labels: alertLabelsOf(threshold),
    annotations: {
      summary: `${threshold.summary} (model {{ $labels.model }})`,
      description: alertDescription(
        threshold,
        `{{ ${humanizeFn[threshold.unit]} $values.A.Value }}`,
      ),
      runbook_url: runbookUrl(runbookBase, threshold.runbook),
    },
    notification_settings: { receiver: CONTACT_POINT },
  };
}

/**
 * Grafana-managed alerting: the seed's alerts evaluated by Grafana itself (for setups without
 * Prometheus rules and Alertmanager), notifying Loopgate's /hooks/alerts. Use either these or the
 * Prometheus rules, not both, or every alert reaches Loopgate twice (as two senders).
 */
export function alertingProvisioning(runbookBase: string) {
  return {
    apiVersion: 1,
    contactPoints: [
      {
        orgId: 1,
        name: CONTACT_POINT,
        receivers: [
          {
            uid: "loopgate-alerts-webhook",
            type: "webhook",
            disableResolveMessage: false,
            settings: {
              url: `${envRef("LOOPGATE_URL")}/hooks/alerts`,
              httpMethod: "POST",
              authorization_scheme: "Bearer",
              authorization_credentials: envRef("ALERT_WEBHOOK_TOKEN"),
            },
          },
        ],
      },
    ],
    groups: escapeDollars([
      {
        orgId: 1,
        name: "loopgate-feedback",
        folder: GRAFANA_FOLDER,
        interval: "1m",
        rules: allThresholds.map((threshold) => grafanaRule(threshold, runbookBase)),
      },
    ]),
  };
}
