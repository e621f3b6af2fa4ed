import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { buildDashboards } from "../../src/observability/grafana/dashboards.js";

const root = resolve(import.meta.dirname, "../..");

export interface Panel {
  id?: number;
  type: string;
  title: string;
  gridPos?: { x: number; y: number; w: number; h: number };
  datasource?: { uid: string };
  targets?: Array<{ refId?: string; expr?: string; datasource?: { uid: string } }>;
  fieldConfig?: { defaults?: { thresholds?: { steps: Array<{ value: number | null }> } } };
}
export interface DashboardJson {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; query?: unknown }> };
}

export async function committedDashboards(): Promise<Record<string, DashboardJson>> {
  const entries = await Promise.all(
    Object.keys(buildDashboards()).map(
      async (name) =>
        [
          name,
          JSON.parse(await readFile(resolve(root, "grafana/dashboards", name), "utf8")),
        ] as const,
    ),
  );
  return Object.fromEntries(entries);
}

/** Grafana variables replaced by values Prometheus understands, as Grafana does before a query. */
function asPromQL(expr: string): string {
  return expr
    .replaceAll("$__rate_interval", "1m")
    .replaceAll("$window", "24h")
    .replaceAll("$model", ".*");
}

export async function panelQueries(): Promise<
  Array<{ dashboard: string; panel: string; expr: string }>
> {
  const dashboards = await committedDashboards();
  return Object.values(dashboards).flatMap((dashboard) =>
    dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        dashboard: dashboard.title,
        panel: panel.title,
        expr: asPromQL(target.expr ?? ""),
      })),
    ),
  );
}
