import {
  BigValueColorMode,
  GraphThresholdsStyleConfigBuilder,
  GraphThresholdsStyleMode,
  LegendDisplayMode,
  LegendPlacement,
  ReduceDataOptionsBuilder,
  VizLegendOptionsBuilder,
} from "@grafana/grafana-foundation-sdk/common";
import {
  CustomVariableBuilder,
  type Dashboard,
  DashboardBuilder,
  DashboardCursorSync,
  QueryVariableBuilder,
  RowBuilder,
  type Threshold as StepThreshold,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  VariableRefresh,
} from "@grafana/grafana-foundation-sdk/dashboard";
import { PanelBuilder as GaugeBuilder } from "@grafana/grafana-foundation-sdk/gauge";
import { DataqueryBuilder } from "@grafana/grafana-foundation-sdk/prometheus";
import { PanelBuilder as StatBuilder } from "@grafana/grafana-foundation-sdk/stat";
import { PanelBuilder as TimeseriesBuilder } from "@grafana/grafana-foundation-sdk/timeseries";
import * as units from "@grafana/grafana-foundation-sdk/units";
import {
  gatewayMetricNames as gw,
  metricNames as m,
  monitoringThresholds,
  retrainingTriggers,
  type Threshold,
} from "../thresholds.js";
import { formatThreshold, recordedGauge } from "./format.js";
import { recordedRate } from "./prometheus-rules.js";

/** The uid of the provisioned Prometheus datasource (grafana/provisioning/datasources). */
export const PROMETHEUS_DATASOURCE_UID = "loopgate-prometheus";
const datasource = { type: "prometheus", uid: PROMETHEUS_DATASOURCE_UID };

const byId = Object.fromEntries(
  [...monitoringThresholds, ...retrainingTriggers].map((threshold) => [threshold.id, threshold]),
) as Record<
  (typeof monitoringThresholds)[number]["id"] | (typeof retrainingTriggers)[number]["id"],
  Threshold
>;

/**
 * Panel colours from the same numbers as the alerts: red past the alert threshold, yellow between
 * it and the seed's target, green on the target's side.
 */
export function thresholdSteps(threshold: Threshold): StepThreshold[] {
  const { target } = threshold;
  if (threshold.direction === "below") {
    // An inclusive threshold is bad at its own value: yellow starts just above it.
    const yellowFrom = threshold.inclusive ? threshold.threshold + 1e-9 : threshold.threshold;
    return [
      { value: null as unknown as number, color: "red" },
      { value: yellowFrom, color: "yellow" },
      ...(target !== undefined ? [{ value: target, color: "green" }] : []),
    ];
  }
  return [
    { value: null as unknown as number, color: "green" },
    ...(target !== undefined ? [{ value: target, color: "yellow" }] : []),
    { value: threshold.threshold, color: "red" },
  ];
}

function thresholdsOf(threshold: Threshold): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps(thresholdSteps(threshold));
}

const unitOf = (threshold: Threshold) =>
  threshold.unit === "ratio"
    ? units.PercentUnit
    : threshold.unit === "seconds"
      ? units.DurationInDaysHoursMinutesSeconds
      : units.Short;

/** Hands out panel ids and query refIds: Grafana links alerts and panels by stable ids. */
function counter() {
  let next = 1;
  return () => next++;
}

function query(expr: string, legend: string, refId = "A", instant = false): DataqueryBuilder {
  const builder = new DataqueryBuilder()
    .datasource(datasource)
    .expr(expr)
    .legendFormat(legend)
    .refId(refId);
  return instant ? builder.instant() : builder.range();
}

const modelVariable = () =>
  new QueryVariableBuilder("model")
    .label("Model")
    .datasource(datasource)
    .query(`label_values(${m.windowInteractions}, model)`)
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .multi(true)
    .includeAll(true)
    .allValue(".*");

const windowVariable = () =>
  new CustomVariableBuilder("window")
    .label("Window")
    .values("1h,24h,7d")
    .current({ text: "24h", value: "24h", selected: true })
    .options([
      { text: "1h", value: "1h", selected: false },
      { text: "24h", value: "24h", selected: true },
      { text: "7d", value: "7d", selected: false },
    ]);

/**
 * A gauge series as recorded by the rules (de-duplicated across replicas), for the models picked.
 * Window gauges show the dashboard's `$window`, or with `ownWindow` the window the alert uses.
 */
function gaugeExpr(threshold: Threshold, ownWindow = false): string {
  if (threshold.window === undefined) {
    return `${recordedGauge(threshold.metric, false)}{model=~"$model"}`;
  }
  const window = ownWindow ? threshold.window : "$window";
  return `${recordedGauge(threshold.metric, true)}{window="${window}",model=~"$model"}`;
}

function base(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(["loopgate", "generated"])
    .refresh("1m")
    .time({ from: "now-7d", to: "now" })
    .timezone("utc")
    .tooltip(DashboardCursorSync.Crosshair)
    .readonly();
}

function statOf(id: number, threshold: Threshold, expr: string, title: string): StatBuilder {
  return new StatBuilder()
    .id(id)
    .title(title)
    .description(
      `${threshold.title}: alert ${threshold.inclusive ? "at or " : ""}${threshold.direction} ${formatThreshold(threshold.unit, threshold.threshold)}${threshold.target !== undefined ? `, target ${threshold.direction === "above" ? "below" : "above"} ${formatThreshold(threshold.unit, threshold.target)}` : ""} (${threshold.alert}).`,
    )
    .unit(unitOf(threshold))
    .decimals(threshold.unit === "ratio" ? 1 : 0)
    .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
    .colorMode(BigValueColorMode.Value)
    .thresholds(thresholdsOf(threshold))
    .withTarget(query(expr, "{{model}}", "A", true))
    .span(6)
    .height(5);
}

function trendOf(id: number, threshold: Threshold, expr: string, title: string): TimeseriesBuilder {
  return new TimeseriesBuilder()
    .id(id)
    .title(title)
    .description(
      `${threshold.title} per model, with the seed's target and alert threshold as lines.`,
    )
    .unit(unitOf(threshold))
    .thresholds(thresholdsOf(threshold))
    .thresholdsStyle(new GraphThresholdsStyleConfigBuilder().mode(GraphThresholdsStyleMode.Dashed))
    .legend(
      new VizLegendOptionsBuilder()
        .showLegend(true)
        .displayMode(LegendDisplayMode.List)
        .placement(LegendPlacement.Bottom),
    )
    .withTarget(query(expr, "{{model}}"))
    .span(12)
    .height(8);
}

function plainSeries(
  id: number,
  title: string,
  description: string,
  unit: string,
  targets: Array<[expr: string, legend: string]>,
  span = 12,
): TimeseriesBuilder {
  const panel = new TimeseriesBuilder()
    .id(id)
    .title(title)
    .description(description)
    .unit(unit)
    .span(span)
    .height(8);
  for (const [index, [expr, legend]] of targets.entries()) {
    panel.withTarget(query(expr, legend, String.fromCharCode(65 + index)));
  }
  return panel;
}

export function feedbackOverview(): Dashboard {
  const id = counter();
  const rates = [
    byId.positive_feedback_rate,
    byId.correction_rate,
    byId.safety_flag_rate,
    byId.feedback_collection_rate,
  ];
  const dash = base(
    "loopgate-feedback-overview",
    "Loopgate / Feedback overview",
    "The seed's feedback metrics per model against its targets and alert thresholds.",
  )
    .withVariable(modelVariable())
    .withVariable(windowVariable())
    .withRow(new RowBuilder("Rates in the selected window").id(id()));
  for (const threshold of rates)
    dash.withPanel(statOf(id(), threshold, gaugeExpr(threshold), `${threshold.title} ($window)`));
  dash.withRow(new RowBuilder("Rates per model").id(id()));
  for (const threshold of rates)
    dash.withPanel(trendOf(id(), threshold, gaugeExpr(threshold), threshold.title));
  dash
    .withRow(new RowBuilder("Volume").id(id()))
    .withPanel(
      plainSeries(
        id(),
        "Feedback received by kind",
        "Feedback items stored per second, by kind.",
        units.OpsPerSecond,
        [
          [
            `sum by (kind) (${recordedRate(m.feedbackReceived, "job_model_kind_sentiment")}{model=~"$model"})`,
            "{{kind}}",
          ],
        ],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Interactions and judgements in the window",
        "The denominators of the rates; alerts stay silent below their minimum volume.",
        units.Short,
        [
          [
            `${recordedGauge(m.windowInteractions, true)}{window="$window",model=~"$model"}`,
            "interactions {{model}}",
          ],
          [
            `${recordedGauge(m.windowJudgements, true)}{window="$window",model=~"$model"}`,
            "judgements {{model}}",
          ],
        ],
      ),
    );
  return dash.build();
}

export function qualityAndSafety(): Dashboard {
  const id = counter();
  const safety = byId.safety_flag_rate;
  const correction = byId.correction_rate;
  const negative = byId.negative_feedback_rate;
  return base(
    "loopgate-quality-safety",
    "Loopgate / Quality and safety",
    "Safety flags, corrections, negative feedback and knowledge gaps per model.",
  )
    .withVariable(modelVariable())
    .withVariable(windowVariable())
    .withRow(new RowBuilder("Safety").id(id()))
    .withPanel(statOf(id(), safety, gaugeExpr(safety), "Safety flag rate ($window)"))
    .withPanel(
      new GaugeBuilder()
        .id(id())
        .title("Correction rate ($window)")
        .description("Share of the window's interactions that received a correction.")
        .unit(units.PercentUnit)
        .min(0)
        .max(1)
        .showThresholdMarkers(true)
        .thresholds(thresholdsOf(correction))
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
        .withTarget(query(gaugeExpr(correction), "{{model}}", "A", true))
        .span(6)
        .height(5),
    )
    .withPanel(statOf(id(), negative, gaugeExpr(negative, true), "Negative feedback rate (7d)"))
    .withPanel(
      statOf(id(), byId.knowledge_gaps, gaugeExpr(byId.knowledge_gaps), "Knowledge gaps (7d)"),
    )
    .withRow(new RowBuilder("Trends").id(id()))
    .withPanel(trendOf(id(), safety, gaugeExpr(safety), "Safety flag rate"))
    .withPanel(trendOf(id(), negative, gaugeExpr(negative, true), "Negative feedback rate (7d)"))
    .withPanel(
      plainSeries(
        id(),
        "Safety flags and corrections",
        "Safety flags and corrections stored per second.",
        units.OpsPerSecond,
        [
          [`sum by (model) (${recordedRate(m.safetyFlags)}{model=~"$model"})`, "flags {{model}}"],
          [
            `sum by (model) (${recordedRate(m.corrections)}{model=~"$model"})`,
            "corrections {{model}}",
          ],
        ],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Negative feedback by source",
        "Negative feedback items per second, by kind.",
        units.OpsPerSecond,
        [
          [
            `sum by (kind) (${recordedRate(m.feedbackReceived, "job_model_kind_sentiment")}{sentiment="negative",model=~"$model"})`,
            "{{kind}}",
          ],
        ],
      ),
    )
    .build();
}

export function retraining(): Dashboard {
  const id = counter();
  const triggers = [byId.negative_feedback_rate, byId.knowledge_gaps, byId.preference_pairs];
  const dash = base(
    "loopgate-retraining",
    "Loopgate / Retraining and model improvement",
    "The seed's retraining triggers and what retraining achieved.",
  )
    .withVariable(modelVariable())
    .withRow(new RowBuilder("Retraining triggers").id(id()));
  for (const threshold of triggers)
    dash.withPanel(statOf(id(), threshold, gaugeExpr(threshold, true), threshold.title));
  dash
    .withPanel(
      new StatBuilder()
        .id(id())
        .title("Retraining triggers firing")
        .description(
          "Alerts labelled loopgate_action that fire now; each becomes a retraining request at /hooks/alerts.",
        )
        .unit(units.Short)
        .reduceOptions(new ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
        .withTarget(
          query(
            'count by (loopgate_action) (ALERTS{alertstate="firing",loopgate_action!=""})',
            "{{loopgate_action}}",
            "A",
            true,
          ),
        )
        .span(6)
        .height(5),
    )
    .withRow(new RowBuilder("Model improvement").id(id()))
    .withPanel(
      statOf(
        id(),
        byId.model_improvement,
        gaugeExpr(byId.model_improvement),
        "Improvement after retraining",
      ),
    )
    .withPanel(
      statOf(
        id(),
        byId.time_to_improvement,
        gaugeExpr(byId.time_to_improvement),
        "Time-to-improvement",
      ),
    )
    .withPanel(
      trendOf(
        id(),
        byId.preference_pairs,
        gaugeExpr(byId.preference_pairs),
        "New preference pairs since training",
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Preference pairs and knowledge gaps collected",
        "New preference pairs and knowledge-gap items per second.",
        units.OpsPerSecond,
        [
          [
            `sum by (model) (${recordedRate(m.preferencePairs)}{model=~"$model"})`,
            "pairs {{model}}",
          ],
          [`sum by (model) (${recordedRate(m.knowledgeGaps)}{model=~"$model"})`, "gaps {{model}}"],
        ],
      ),
    );
  return dash.build();
}

export function gatewayHealth(): Dashboard {
  const id = counter();
  const rate = (metric: string) => `rate(${metric}[$__rate_interval])`;
  const quantile = (q: number, histogram: string, by = "") =>
    `histogram_quantile(${q}, sum by (le${by}) (${rate(`${histogram}_bucket`)}))`;
  return base(
    "loopgate-gateway-health",
    "Loopgate / Gateway health",
    "GraphQL operations, latency and errors, the MongoDB store, jobs and the process.",
  )
    .withRow(new RowBuilder("GraphQL").id(id()))
    .withPanel(
      plainSeries(
        id(),
        "Operations",
        "GraphQL operations per second by type.",
        units.OpsPerSecond,
        [[`sum by (operationType) (${rate(gw.graphqlRequests)})`, "{{operationType}}"]],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Operation latency",
        "End-to-end GraphQL operation duration.",
        units.Seconds,
        [
          [quantile(0.5, gw.graphqlRequestDuration), "p50"],
          [quantile(0.95, gw.graphqlRequestDuration), "p95"],
          [quantile(0.99, gw.graphqlRequestDuration), "p99"],
        ],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Errors",
        "GraphQL results with errors, by phase, per second.",
        units.OpsPerSecond,
        [[`sum by (phase) (${rate(gw.graphqlErrors)})`, "{{phase}}"]],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "HTTP responses by status",
        "HTTP responses per second by status code.",
        units.RequestsPerSecond,
        [[`sum by (statusCode) (${rate(`${gw.httpDuration}_count`)})`, "{{statusCode}}"]],
      ),
    )
    .withRow(new RowBuilder("Store").id(id()))
    .withPanel(
      plainSeries(
        id(),
        "MongoDB command latency (p99)",
        "Driver command duration by command.",
        units.Seconds,
        [[quantile(0.99, m.mongoCommandDuration, ", command"), "{{command}}"]],
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "MongoDB connection pool",
        "Connections in use and available.",
        units.Short,
        [[`sum by (state) (${m.mongoPoolConnections})`, "{{state}}"]],
      ),
    )
    .withRow(new RowBuilder("Jobs and integrations").id(id()))
    .withPanel(
      plainSeries(
        id(),
        "Jobs completed",
        "Jobs finished per second by type and outcome.",
        units.OpsPerSecond,
        [[`sum by (type, outcome) (${rate(`${m.jobRunDuration}_count`)})`, "{{type}} {{outcome}}"]],
        8,
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Jobs queued",
        "Jobs by state (every replica reports the same database figures, hence max).",
        units.Short,
        [[`sum by (state) (max by (type, state) (${m.jobs}))`, "{{state}}"]],
        8,
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Integration requests",
        "Outbound calls per second by integration and outcome.",
        units.RequestsPerSecond,
        [
          [
            `sum by (integration, outcome) (${rate(m.integrationRequests)})`,
            "{{integration}} {{outcome}}",
          ],
        ],
        8,
      ),
    )
    .withRow(new RowBuilder("Process").id(id()))
    .withPanel(
      plainSeries(
        id(),
        "CPU",
        "Process CPU seconds per second, per instance.",
        units.Short,
        [[rate(gw.processCpu), "{{instance}}"]],
        8,
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Resident memory",
        "Process resident memory, per instance.",
        units.BytesIEC,
        [[gw.residentMemory, "{{instance}}"]],
        8,
      ),
    )
    .withPanel(
      plainSeries(
        id(),
        "Event loop lag (p99)",
        "Node.js event loop lag, per instance.",
        units.Seconds,
        [[gw.eventLoopLagP99, "{{instance}}"]],
        8,
      ),
    )
    .build();
}

/** Every dashboard, by file name under grafana/dashboards/. */
export function buildDashboards(): Record<string, Dashboard> {
  return {
    "loopgate-feedback-overview.json": feedbackOverview(),
    "loopgate-quality-safety.json": qualityAndSafety(),
    "loopgate-retraining.json": retraining(),
    "loopgate-gateway-health.json": gatewayHealth(),
  };
}
