import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { createModelLabeler } from "../../src/observability/model-labels.js";
import { createWindowMetrics } from "../../src/observability/window-metrics.js";
import { connectStore } from "../../src/store/mongo.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { parseExposition, sample } from "../support/metrics.js";

const clock = createManualClock(new Date("2026-03-02T10:07:00Z"));
const testApp = useTestApp({ clock, env: { METRICS_MODELS: "support-bot,chat@v2" } });

const submit = (mutation: string, inputType: string) => /* GraphQL */ `
  mutation Submit($input: ${inputType}!) {
    result: ${mutation}(input: $input) { __typename ... on Error { message } }
  }
`;
const mutations = {
  binary: submit("submitBinaryFeedback", "BinaryFeedbackInput"),
  correction: submit("submitCorrection", "CorrectionFeedbackInput"),
  comparison: submit("submitComparison", "ComparisonFeedbackInput"),
  comment: submit("submitComment", "CommentFeedbackInput"),
  flag: submit("submitFlag", "FlagFeedbackInput"),
};

async function feedback(kind: keyof typeof mutations, input: Record<string, unknown>) {
  const response = await testApp.gql(mutations[kind], { input });
  expect(response.data?.result?.__typename, JSON.stringify(response)).toBe("SubmitFeedbackPayload");
}

const interaction = async (id: string, version: string) =>
  (await recordInteraction(testApp, { model: { id, version } })).id;

async function scrape() {
  const response = await testApp.app.fetch("http://localhost/metrics");
  expect(response.status).toBe(200);
  return parseExposition(await response.text());
}

describe("window gauges and per-model counters", () => {
  it("follow the seed's ratios per model and window as traffic arrives and ages", async () => {
    const bot = [];
    for (let i = 0; i < 10; i++) bot.push(await interaction("support-bot", "v1"));
    await feedback("binary", { interactionId: bot[0], positive: true });
    for (const id of bot.slice(1, 4))
      await feedback("binary", { interactionId: id, positive: false });
    await feedback("correction", { interactionId: bot[4], correctedResponse: "Better answer." });
    await feedback("flag", { interactionId: bot[5], category: "SAFETY", severity: "HIGH" });
    await feedback("comment", {
      interactionId: bot[6],
      text: "It did not know our refund policy.",
      category: "KNOWLEDGE_GAP",
    });
    const [c1, c2] = [await interaction("chat", "v2"), await interaction("chat", "v2")];
    await feedback("comparison", {
      a: { interactionId: c1 },
      b: { interactionId: c2 },
      preferred: "A",
    });
    await interaction("chat", "v1"); // not configured: counted as `other`

    // Nothing is computed on a scrape: before the first refresh the window gauges are absent.
    let samples = await scrape();
    expect(
      sample(samples, "loopgate_window_interactions", { window: "1h", model: "support-bot" }),
    ).toBeUndefined();
    expect(sample(samples, "loopgate_interactions_recorded_total", { model: "support-bot" })).toBe(
      10,
    );
    expect(sample(samples, "loopgate_interactions_recorded_total", { model: "chat@v2" })).toBe(2);
    expect(sample(samples, "loopgate_interactions_recorded_total", { model: "other" })).toBe(1);
    expect(sample(samples, "loopgate_corrections_total", { model: "support-bot" })).toBe(1);
    expect(sample(samples, "loopgate_safety_flags_total", { model: "support-bot" })).toBe(1);
    expect(sample(samples, "loopgate_knowledge_gaps_total", { model: "support-bot" })).toBe(1);
    expect(sample(samples, "loopgate_preference_pairs_total", { model: "support-bot" })).toBe(1);
    expect(sample(samples, "loopgate_preference_pairs_total", { model: "chat@v2" })).toBe(1);
    expect(
      sample(samples, "loopgate_feedback_received_total", {
        kind: "binary",
        source: "user",
        sentiment: "negative",
        model: "support-bot",
      }),
    ).toBe(3);

    await testApp.windowMetrics.refresh();
    samples = await scrape();
    for (const window of ["1h", "24h", "7d"]) {
      const bot = { window, model: "support-bot" };
      expect(sample(samples, "loopgate_window_interactions", bot)).toBe(10);
      expect(sample(samples, "loopgate_window_judgements", bot)).toBe(4);
      expect(sample(samples, "loopgate_positive_feedback_ratio", bot)).toBe(0.25);
      expect(sample(samples, "loopgate_negative_feedback_ratio", bot)).toBe(0.75);
      expect(sample(samples, "loopgate_correction_ratio", bot)).toBe(0.1);
      expect(sample(samples, "loopgate_safety_flag_ratio", bot)).toBe(0.1);
      // Seven of ten interactions received feedback.
      expect(sample(samples, "loopgate_feedback_collection_ratio", bot)).toBe(0.7);
      const other = { window, model: "other" };
      expect(sample(samples, "loopgate_window_interactions", other)).toBe(1);
      expect(sample(samples, "loopgate_window_judgements", other)).toBe(0);
      // No judgement, no rate: the series is absent rather than a made-up 0.
      expect(sample(samples, "loopgate_positive_feedback_ratio", other)).toBeUndefined();
      expect(sample(samples, "loopgate_feedback_collection_ratio", other)).toBe(0);
    }
    expect(sample(samples, "loopgate_knowledge_gaps_7d", { model: "support-bot" })).toBe(1);
    expect(
      sample(samples, "loopgate_preference_pairs_since_training", { model: "support-bot" }),
    ).toBe(1);
    expect(sample(samples, "loopgate_preference_pairs_since_training", { model: "chat@v2" })).toBe(
      1,
    );
    expect(sample(samples, "loopgate_preference_pairs_since_training", { model: "other" })).toBe(0);
    // Filled by the retraining runs: registered, absent until they report.
    expect(
      sample(samples, "loopgate_model_improvement_ratio", { model: "support-bot" }),
    ).toBeUndefined();

    // Two hours later: the 1h window holds only the new traffic, 24h and 7d hold both. This
    // refresh re-aggregates only the recent span, not the 7 days.
    clock.advance(2 * 3_600_000);
    const late = await interaction("support-bot", "v1");
    await feedback("binary", { interactionId: late, positive: true });
    const before = testApp.commands.length;
    await testApp.windowMetrics.refresh();
    const scans = testApp.commands
      .slice(before)
      .filter((command) => command.commandName === "aggregate");
    expect(scans).toHaveLength(2);
    // From the previous refresh's recent span on (2 h ago, minus 10 minutes, to a 5-minute bucket):
    // the buckets that closed since are folded in, older ones are kept.
    for (const scan of scans) {
      const from = scan.command.pipeline[0].$match.createdAt.$gte as Date;
      expect(clock.now().getTime() - from.getTime()).toBeLessThanOrEqual(
        2 * 3_600_000 + 15 * 60_000,
      );
    }
    samples = await scrape();
    const bot1h = { window: "1h", model: "support-bot" };
    expect(sample(samples, "loopgate_window_interactions", bot1h)).toBe(1);
    expect(sample(samples, "loopgate_positive_feedback_ratio", bot1h)).toBe(1);
    const bot24h = { window: "24h", model: "support-bot" };
    expect(sample(samples, "loopgate_window_interactions", bot24h)).toBe(11);
    expect(sample(samples, "loopgate_positive_feedback_ratio", bot24h)).toBe(0.4);
    expect(
      sample(samples, "loopgate_preference_pairs_since_training", { model: "support-bot" }),
    ).toBe(1);

    // Eight days later everything left the windows (a full rebuild); pairs since training stay.
    clock.advance(8 * 86_400_000);
    await testApp.windowMetrics.refresh();
    samples = await scrape();
    expect(
      sample(samples, "loopgate_window_interactions", { window: "7d", model: "support-bot" }),
    ).toBe(0);
    expect(
      sample(samples, "loopgate_negative_feedback_ratio", { window: "7d", model: "support-bot" }),
    ).toBeUndefined();
    expect(sample(samples, "loopgate_knowledge_gaps_7d", { model: "support-bot" })).toBe(0);
    expect(
      sample(samples, "loopgate_preference_pairs_since_training", { model: "support-bot" }),
    ).toBe(1);
    expect(sample(samples, "loopgate_preference_pairs_since_training", { model: "chat@v2" })).toBe(
      1,
    );
    expect(sample(samples, "loopgate_window_refresh_errors_total")).toBe(0);
  });

  it("keep their last values and count the error when a refresh fails", async () => {
    const store = await connectStore({
      uri: testApp.config.mongodbUri ?? "",
      dbName: testApp.config.mongodbDb,
      timeouts: { serverSelectionMs: 300, operationMs: 1_000 },
    });
    const registry = new Registry();
    const metrics = createWindowMetrics({
      registry,
      collections: store.collections,
      clock,
      modelLabel: createModelLabeler(["support-bot"]),
      rebuildIntervalMs: 0,
    });
    await metrics.refresh();
    const good = await registry.metrics();
    expect(good).toMatch(/loopgate_window_interactions\{window="7d",model="support-bot"\} \d+/);
    await store.close();
    await expect(metrics.refresh()).rejects.toThrow();
    const after = parseExposition(await registry.metrics());
    expect(sample(after, "loopgate_window_refresh_errors_total")).toBe(1);
    const kept = parseExposition(good);
    for (const [series, value] of kept) {
      if (series.startsWith("loopgate_window_interactions")) expect(after.get(series)).toBe(value);
    }
  });
});
