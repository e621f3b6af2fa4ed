import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { DEFAULT_RUNBOOK_BASE, generatedFiles } from "../observability/grafana/generate.js";

/**
 * Writes the Prometheus rules, Grafana dashboards and Grafana alerting provisioning generated from
 * src/observability/thresholds.ts. `LOOPGATE_RUNBOOK_BASE_URL` makes runbook links absolute (e.g.
 * the runbooks file on your Git host); the committed files keep the repository-relative path.
 */
const root = resolve(import.meta.dirname, "../..");
const runbookBase = process.env.LOOPGATE_RUNBOOK_BASE_URL || DEFAULT_RUNBOOK_BASE;
for (const [path, content] of generatedFiles({ runbookBase })) {
  const target = resolve(root, path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, content);
  process.stdout.write(`wrote ${path}\n`);
}
