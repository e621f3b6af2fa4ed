import { stringify } from "yaml";
import { buildPrometheusRules } from "./prometheus-rules.js";

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
  return files;
}
