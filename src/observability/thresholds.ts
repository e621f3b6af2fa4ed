/**
 * The one source of truth for what Loopgate watches: the metric names users, dashboards and rules
 * rely on (the contract of issue 10), the seed's targets and alert thresholds ("Metrics and
 * Monitoring"), and its retraining triggers. The Prometheus rules under grafana/prometheus/ and
 * the Grafana dashboards under grafana/dashboards/ are generated from this file
 * (`npm run grafana:generate`); a test fails when the committed files drift from it.
 */

/** Windows of the sliding-window gauges (label `window`). */
export const metricWindows = ["1h", "24h", "7d"] as const;
export type MetricWindow = (typeof metricWindows)[number];

/**
 * Metric names: the contract. Renaming one breaks dashboards, rules and users' queries, so each
 * is declared once here and imported wherever it is emitted or queried.
 */
export const metricNames = {
  // Counters, fed by domain events as data arrives.
  interactionsRecorded: "loopgate_interactions_recorded_total",
  feedbackReceived: "loopgate_feedback_received_total",
  safetyFlags: "loopgate_safety_flags_total",
  corrections: "loopgate_corrections_total",
  knowledgeGaps: "loopgate_knowledge_gaps_total",
  preferencePairs: "loopgate_preference_pairs_total",
  // The seed's table as gauges over sliding windows, labelled `window` (see metricWindows) and
  // `model` (a configured set of model ids plus `other`), computed from MongoDB rollups off the
  // scrape path.
  positiveFeedbackRatio: "loopgate_positive_feedback_ratio",
  correctionRatio: "loopgate_correction_ratio",
  safetyFlagRatio: "loopgate_safety_flag_ratio",
  feedbackCollectionRatio: "loopgate_feedback_collection_ratio",
  negativeFeedbackRatio: "loopgate_negative_feedback_ratio",
  /** Interactions created in the window: the denominator of the correction, safety-flag and
   * collection ratios, and their minimum-volume guard. */
  windowInteractions: "loopgate_window_interactions",
  /** Binary and rating feedback in the window: the denominator of the positive and negative
   * ratios, and their minimum-volume guard. */
  windowJudgements: "loopgate_window_judgements",
  // Per model (label `model` only).
  knowledgeGaps7d: "loopgate_knowledge_gaps_7d",
  preferencePairsSinceTraining: "loopgate_preference_pairs_since_training",
  /** Seconds from a retraining trigger to the rollout of an improved model; while a trigger is
   * still open, the time elapsed so far (filled by the retraining runs). */
  timeToImprovementSeconds: "loopgate_time_to_improvement_seconds",
  /** Relative change of the evaluation metric of the last retrained model over its predecessor
   * (0.03 = 3 % better; filled by the retraining runs). */
  modelImprovementRatio: "loopgate_model_improvement_ratio",
  /** Failed refreshes of the window gauges (the gauges then keep their last value). */
  windowRefreshErrors: "loopgate_window_refresh_errors_total",
  /** Histogram, label `kind` (`full`: the 7-day rebuild, `recent`: the last hour). */
  windowRefreshDuration: "loopgate_window_refresh_duration_seconds",
  // Gateway internals, named here so the Gateway health dashboard and the store, job and
  // integration instrumentation agree.
  /** Histogram, labels `command` (the driver's command name from a fixed set, or `other`) and
   * `outcome` (`ok`, `error`). */
  mongoCommandDuration: "loopgate_mongodb_command_duration_seconds",
  /** Gauge, label `state` (`in_use`, `available`): the driver's connection pools. */
  mongoPoolConnections: "loopgate_mongodb_pool_connections",
  /** Counter, label `reason`: connection checkouts that failed. */
  mongoPoolCheckoutFailures: "loopgate_mongodb_pool_checkout_failures_total",
  /** Gauge, labels `type` and `state` (`queued`, `running`, `dead`). */
  jobs: "loopgate_jobs",
  /** Gauge: age of the oldest runnable job. */
  jobQueueLag: "loopgate_job_queue_lag_seconds",
  /** Histogram, labels `type` and `outcome` (`succeeded`, `retried`, `dead`, `lease_lost`,
   * `abandoned`); its `_count` counts finished runs. */
  jobRunDuration: "loopgate_job_run_duration_seconds",
  /** Counter, labels `integration`, `outcome` (`success`, `http_error`, `timeout`,
   * `network_error`) and `status_class`: outbound HTTP attempts. */
  integrationRequests: "loopgate_integration_requests_total",
  /** Counter, labels `integration` and `direction` (`push`, `pull`). */
  integrationItemsSynced: "loopgate_integration_items_synced_total",
  /** Counter, labels `integration` and `direction`. */
  integrationSyncErrors: "loopgate_integration_sync_errors_total",
  /** Gauge, labels `integration` and `direction`. */
  integrationSyncLag: "loopgate_integration_sync_lag_seconds",
} as const;

/** Metrics the GraphQL server plugin (@graphql-yoga/plugin-prometheus) and prom-client export. */
export const gatewayMetricNames = {
  graphqlRequests: "graphql_envelop_request",
  graphqlRequestDuration: "graphql_envelop_request_duration",
  graphqlErrors: "graphql_envelop_error_result",
  httpDuration: "graphql_yoga_http_duration",
  processCpu: "process_cpu_seconds_total",
  residentMemory: "process_resident_memory_bytes",
  eventLoopLagP99: "nodejs_eventloop_lag_p99_seconds",
} as const;
export type MetricName = (typeof metricNames)[keyof typeof metricNames];

/** Labels on alerts that the webhook turns into retraining requests. */
export const alertLabels = {
  severity: "severity",
  /** Present on retraining triggers only: what the trigger asks Loopgate to do. */
  action: "loopgate_action",
  /** The seed's requirement level of a trigger: `must` or `should`. */
  requirement: "loopgate_requirement",
} as const;

export const alertActions = ["retrain", "rag_update"] as const;
export type AlertAction = (typeof alertActions)[number];
export const alertRequirements = ["must", "should"] as const;
export type AlertRequirement = (typeof alertRequirements)[number];
export type Severity = "critical" | "warning" | "info";

/** Which way a value is bad: `below` the threshold (rates that should be high) or `above` it. */
export type Direction = "below" | "above";

export interface WindowGuard {
  /** The volume gauge that counts the ratio's denominator. */
  readonly volumeMetric: MetricName;
  /** The alert stays silent below this many items in the window: 1 of 3 is no rate. */
  readonly minVolume: number;
}

/**
 * One watched quantity: the seed's target and alert threshold, and how the alert evaluates it.
 * `window` set means a window gauge (`metric{window=...}`) guarded by a volume gauge.
 */
export interface Threshold {
  readonly id: string;
  readonly alert: string;
  /** The seed's name for it. */
  readonly title: string;
  readonly metric: MetricName;
  readonly unit: "ratio" | "count" | "seconds";
  readonly direction: Direction;
  /** The seed's target (good side); undefined when the seed gives none. */
  readonly target?: number;
  /** The seed's alert threshold; the alert fires when the value is past it. */
  readonly threshold: number;
  /** Whether the threshold itself already counts as bad (`>=` / `<=`) or must be passed. */
  readonly inclusive: boolean;
  readonly window?: MetricWindow;
  readonly guard?: WindowGuard;
  /** How long the condition must hold before the alert fires (a Prometheus duration). */
  readonly for: string;
  readonly severity: Severity;
  /** Retraining triggers only. */
  readonly trigger?: { readonly action: AlertAction; readonly requirement: AlertRequirement };
  /** Anchor of its section in docs/runbooks.md. */
  readonly runbook: string;
  /** What the alert's summary says, in words. */
  readonly summary: string;
}

const DAY = 24 * 3600;

/** The seed's "Metrics and Monitoring" table. */
export const monitoringThresholds = [
  {
    id: "positive_feedback_rate",
    alert: "LoopgatePositiveFeedbackRateLow",
    title: "Positive feedback rate",
    metric: metricNames.positiveFeedbackRatio,
    unit: "ratio",
    direction: "below",
    target: 0.8,
    threshold: 0.7,
    inclusive: false,
    window: "24h",
    guard: { volumeMetric: metricNames.windowJudgements, minVolume: 100 },
    for: "30m",
    severity: "warning",
    runbook: "positive-feedback-rate-low",
    summary: "Positive feedback rate below 70%",
  },
  {
    id: "correction_rate",
    alert: "LoopgateCorrectionRateHigh",
    title: "Correction rate",
    metric: metricNames.correctionRatio,
    unit: "ratio",
    direction: "above",
    target: 0.1,
    threshold: 0.2,
    inclusive: false,
    window: "24h",
    guard: { volumeMetric: metricNames.windowInteractions, minVolume: 100 },
    for: "30m",
    severity: "warning",
    runbook: "correction-rate-high",
    summary: "Correction rate above 20%",
  },
  {
    id: "safety_flag_rate",
    alert: "LoopgateSafetyFlagRateHigh",
    title: "Safety flag rate",
    metric: metricNames.safetyFlagRatio,
    unit: "ratio",
    direction: "above",
    target: 0.001,
    threshold: 0.005,
    inclusive: false,
    window: "24h",
    // 0.5 % needs a few hundred interactions before one flag stops being the whole rate.
    guard: { volumeMetric: metricNames.windowInteractions, minVolume: 400 },
    for: "15m",
    severity: "critical",
    runbook: "safety-flag-rate-high",
    summary: "Safety flag rate above 0.5%",
  },
  {
    id: "feedback_collection_rate",
    alert: "LoopgateFeedbackCollectionRateLow",
    title: "Feedback collection rate",
    metric: metricNames.feedbackCollectionRatio,
    unit: "ratio",
    direction: "below",
    target: 0.15,
    threshold: 0.05,
    inclusive: false,
    window: "24h",
    guard: { volumeMetric: metricNames.windowInteractions, minVolume: 200 },
    for: "1h",
    severity: "warning",
    runbook: "feedback-collection-rate-low",
    summary: "Feedback collection rate below 5% of interactions",
  },
  {
    id: "time_to_improvement",
    alert: "LoopgateTimeToImprovementHigh",
    title: "Time-to-improvement",
    metric: metricNames.timeToImprovementSeconds,
    unit: "seconds",
    direction: "above",
    target: 7 * DAY,
    threshold: 14 * DAY,
    inclusive: false,
    for: "1h",
    severity: "warning",
    runbook: "time-to-improvement-high",
    summary: "Time-to-improvement above 14 days",
  },
  {
    id: "model_improvement",
    alert: "LoopgateNoImprovementAfterRetraining",
    title: "Model improvement after retraining",
    metric: metricNames.modelImprovementRatio,
    unit: "ratio",
    direction: "below",
    target: 0.03,
    // "No improvement": zero or worse.
    threshold: 0,
    inclusive: true,
    for: "5m",
    severity: "warning",
    runbook: "no-improvement-after-retraining",
    summary: "Retrained model did not improve on its predecessor",
  },
] as const satisfies readonly Threshold[];

/** The seed's "Retraining Triggers" (MUST and SHOULD; the MAY items are no alerts). */
export const retrainingTriggers = [
  {
    id: "negative_feedback_rate",
    alert: "LoopgateNegativeFeedbackRetrainRequired",
    title: "Negative feedback rate",
    metric: metricNames.negativeFeedbackRatio,
    unit: "ratio",
    direction: "above",
    threshold: 0.2,
    inclusive: false,
    window: "7d",
    guard: { volumeMetric: metricNames.windowJudgements, minVolume: 100 },
    for: "1h",
    severity: "warning",
    trigger: { action: "retrain", requirement: "must" },
    runbook: "negative-feedback-retrain-required",
    summary: "Negative feedback rate above 20% over 7 days: retraining required",
  },
  {
    id: "knowledge_gaps",
    alert: "LoopgateKnowledgeGapsRagUpdateRequired",
    title: "Knowledge-gap feedback per week",
    metric: metricNames.knowledgeGaps7d,
    unit: "count",
    direction: "above",
    threshold: 10,
    inclusive: false,
    for: "30m",
    severity: "warning",
    trigger: { action: "rag_update", requirement: "must" },
    runbook: "knowledge-gaps-rag-update-required",
    summary: "More than 10 knowledge-gap feedback items in 7 days: RAG index update required",
  },
  {
    id: "preference_pairs",
    alert: "LoopgatePreferencePairsRetrainSuggested",
    title: "New preference pairs since training",
    metric: metricNames.preferencePairsSinceTraining,
    unit: "count",
    direction: "above",
    threshold: 5000,
    inclusive: true,
    for: "15m",
    severity: "info",
    trigger: { action: "retrain", requirement: "should" },
    runbook: "preference-pairs-retrain-suggested",
    summary: "5,000 or more new preference pairs since the last training: retraining suggested",
  },
] as const satisfies readonly Threshold[];

export const allThresholds: readonly Threshold[] = [...monitoringThresholds, ...retrainingTriggers];

/** The refresh loop of the window gauges failing: the gauges then show stale values. */
export const windowRefreshFailing = {
  alert: "LoopgateWindowMetricsStale",
  metric: metricNames.windowRefreshErrors,
  window: "15m",
  /** More failures than this in the window fire the alert (one transient failure does not). */
  maxFailures: 2,
  for: "10m",
  severity: "warning" as Severity,
  runbook: "window-metrics-stale",
} as const;
