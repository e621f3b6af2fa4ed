import { stringify } from "yaml";
import { buildDashboards } from "./dashboards.js";
import { buildPrometheusRules } from "./prometheus-rules.js";
import {
  alertingProvisioning,
  dashboardProvisioning,
  datasourceProvisioning,
} from "./provisioning.js";

/** Where the runbooks live unless the generator is given an absolute base URL. */
export const DEFAULT_RUNBOOK_BASE = "docs/runbooks.md";

export interface GenerateOptions {
  /** Prefix of every `runbook_url` (the anchor is appended after `#`). */
  readonly runbookBase: string;
}

const header = (what: string) =>
  `# ${what}\n# Generated from src/observability/thresholds.ts by \`npm run grafana:generate\`; do not edit.\n`;

export function yamlDocument(what: string, value: unknown): string {
  return header(what) + stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/**
 * Every generated file, by path relative to the repository root. The CLI writes them; a test
 * compares them with the committed copies.
 */
export function generatedFiles(options: GenerateOptions): Map<string, string> {
  const files = new Map<string, string>();
  files.set(
    "grafana/prometheus/loopgate.rules.yml",
    yamlDocument(
      "Loopgate's Prometheus recording and alerting rules (the seed's thresholds and retraining triggers).",
      buildPrometheusRules(options.runbookBase),
    ),
  );
  for (const [name, dashboard] of Object.entries(buildDashboards())) {
    files.set(`grafana/dashboards/${name}`, `${JSON.stringify(dashboard, null, 2)}\n`);
  }
  files.set(
    "grafana/provisioning/datasources/loopgate.yaml",
    yamlDocument(
      "Grafana datasource for Loopgate's dashboards and alert rules; set PROMETHEUS_URL in Grafana's environment.",
      datasourceProvisioning(),
    ),
  );
  files.set(
    "grafana/provisioning/dashboards/loopgate.yaml",
    yamlDocument(
      "Loads the dashboards of grafana/dashboards/, mounted into Grafana's container at the path below.",
      dashboardProvisioning(),
    ),
  );
  files.set(
    "grafana/provisioning/alerting/loopgate.yaml",
    yamlDocument(
      "Grafana-managed alert rules (the seed's thresholds) notifying Loopgate's /hooks/alerts; set LOOPGATE_URL and ALERT_WEBHOOK_TOKEN in Grafana's environment. `$$` is a literal `$`.",
      alertingProvisioning(options.runbookBase),
    ),
  );
  return files;
}
