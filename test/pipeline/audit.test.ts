import { describe, expect, it } from "vitest";
import { systemActor } from "../../src/auth/actor.js";
import { createManualClock } from "../../src/clock.js";
import { DRIFT_JOB } from "../../src/pipeline/audit.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

/**
 * The bias and drift audit on a crafted corpus: segment volumes and rates by hand, the drift of
 * topics between a reference window and live traffic, and the divergence gauge set by the refresh
 * job crossing its threshold.
 */
// Near the real time: stored drift reports expire 30 days after computedAt (a TTL index).
const now = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000);
const clock = createManualClock(now);
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000).toISOString();

const testApp = useTestApp({
  clock,
  env: {
    AUDIT_CONFIG: JSON.stringify({
      segments: [
        { name: "plan", path: "metadata.plan" },
        { name: "region", path: "metadata.region" },
      ],
      maxValues: 2,
      liveWindowHours: 24,
      referenceDays: 7,
      threshold: 0.2,
    }),
  },
});

const tester = systemActor("test");
const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1] ?? "";

async function interaction(metadata: Record<string, unknown>, createdAt: string, query?: string) {
  return rawId(
    (await recordInteraction(testApp, { metadata, createdAt, ...(query ? { query } : {}) })).id,
  );
}

async function binary(
  interactionId: string,
  positive: boolean,
  createdAt: string,
  extra: Record<string, unknown> = {},
) {
  await testApp.services.feedback.submit(
    {
      kind: "binary",
      input: { interactionId, positive, createdAt: new Date(createdAt), ...extra },
    },
    tester,
  );
}

const BIAS = /* GraphQL */ `
  query($fields: [String!]) {
    biasAudit(fields: $fields) {
      window { from to } interactions feedback truncated
      segments { name path values { value interactions interactionShare feedback feedbackShare
        representation positiveRate collectionRate correctionShare flagShare } }
    }
  }
`;

async function metric(name: string): Promise<string[]> {
  const response = await testApp.app.fetch("http://localhost/metrics");
  return (await response.text()).split("\n").filter((line) => line.startsWith(name));
}

async function refreshThroughTheJob() {
  const { job } = await testApp.services.jobs.enqueue(DRIFT_JOB, {}, { key: DRIFT_JOB });
  testApp.worker?.start();
  await waitUntil(async () => (await testApp.services.jobs.get(job._id))?.state === "succeeded", {
    timeoutMs: 20_000,
    what: "the drift refresh job",
  });
}

describe("bias audit per user segment", () => {
  it("reports volumes, shares and rates per segment value, the rest as other", async () => {
    // Live window (last 24 h): 6 free, 3 pro (in the EU), 1 enterprise interaction.
    const free = [];
    for (let i = 0; i < 6; i++)
      free.push(await interaction({ plan: "free", topic: "billing" }, hoursAgo(2)));
    const pro = [];
    for (let i = 0; i < 3; i++)
      pro.push(await interaction({ plan: "pro", region: "eu", topic: "billing" }, hoursAgo(3)));
    const enterprise = await interaction({ plan: "enterprise", topic: "billing" }, hoursAgo(4));
    // People's feedback: free 1 positive; pro 2 negative + 1 positive on two interactions;
    // enterprise 1 flag. A judge's verdict is not people's feedback and must not count.
    await binary(free[0] ?? "", true, hoursAgo(1));
    await binary(pro[0] ?? "", false, hoursAgo(1), { annotatorId: "a1", source: "expert" });
    await binary(pro[0] ?? "", true, hoursAgo(1), { annotatorId: "a2", source: "expert" });
    await binary(pro[1] ?? "", false, hoursAgo(1));
    await testApp.services.feedback.submit(
      {
        kind: "flag",
        input: { interactionId: enterprise, category: "safety", createdAt: new Date(hoursAgo(1)) },
      },
      tester,
    );
    await binary(free[1] ?? "", false, hoursAgo(1), { source: "llm_judge", annotatorId: "gpt" });

    const result = await testApp.gql(BIAS);
    expect(result.errors).toBeUndefined();
    const audit = result.data?.biasAudit;
    expect(audit).toMatchObject({ interactions: 10, feedback: 5, truncated: false });
    expect(new Date(audit.window.to).toISOString()).toBe(now.toISOString());
    const plan = audit.segments.find((segment: { name: string }) => segment.name === "plan");
    expect(plan.path).toBe("metadata.plan");
    // Volume (interactions + feedback): free 7, pro 6, enterprise 2 → enterprise folds into other.
    expect(plan.values.map((value: { value: string }) => value.value)).toEqual([
      "free",
      "pro",
      "other",
    ]);
    const [freeRow, proRow, otherRow] = plan.values;
    expect(freeRow).toMatchObject({
      interactions: 6,
      feedback: 1,
      positiveRate: 1,
      correctionShare: 0,
      flagShare: 0,
    });
    expect(freeRow.interactionShare).toBeCloseTo(0.6, 12);
    expect(freeRow.feedbackShare).toBeCloseTo(0.2, 12);
    expect(freeRow.representation).toBeCloseTo(1 / 3, 12);
    expect(freeRow.collectionRate).toBeCloseTo(1 / 6, 12);
    expect(proRow).toMatchObject({ interactions: 3, feedback: 3 });
    expect(proRow.positiveRate).toBeCloseTo(1 / 3, 12);
    expect(proRow.representation).toBeCloseTo(2, 12);
    expect(proRow.collectionRate).toBeCloseTo(2 / 3, 12);
    expect(otherRow).toMatchObject({
      interactions: 1,
      feedback: 1,
      flagShare: 1,
      collectionRate: 1,
    });

    const region = await testApp.gql(BIAS, { fields: ["region"] });
    const [regionAudit] = region.data?.biasAudit.segments ?? [];
    expect(
      regionAudit.values.map((value: { value: string; interactions: number }) => [
        value.value,
        value.interactions,
      ]),
    ).toEqual([
      ["unknown", 7],
      ["eu", 3],
    ]);
  });

  it("refuses segment fields that are not configured", async () => {
    const result = await testApp.gql(BIAS, { fields: ["country"] });
    expect(result.errors?.[0]?.extensions?.code).toBe("VALIDATION_FAILED");
    expect(result.errors?.[0]?.message).toContain("country");
  });
});

describe("drift between training data and live traffic", () => {
  it("measures each dimension and moves the divergence gauge across its threshold", async () => {
    // Reference window (7 days before the live one): 4 billing questions, each with feedback.
    for (let i = 0; i < 4; i++) {
      const id = await interaction({ plan: "free", topic: "billing" }, hoursAgo(72));
      await binary(id, false, hoursAgo(71), { category: "accuracy" });
    }
    expect(await metric("loopgate_training_data_divergence_threshold")).toEqual([
      "loopgate_training_data_divergence_threshold 0.2",
    ]);
    // Live traffic so far is all billing (from the test above): no topic drift.
    await refreshThroughTheJob();
    expect(await metric('loopgate_training_data_divergence{dimension="topic"}')).toEqual([
      'loopgate_training_data_divergence{dimension="topic"} 0',
    ]);

    // Live traffic turns to shipping: 10 shipping against the 10 billing interactions.
    for (let i = 0; i < 10; i++)
      await interaction({ plan: "free", topic: "shipping" }, hoursAgo(1));
    const report = await testApp.gql(/* GraphQL */ `
      query { driftReport { threshold exceeded reference { kind feedback window { from to } }
        live { interactions feedback }
        dimensions { dimension divergence exceeded reference { value count share } live { value count share } } } }
    `);
    expect(report.errors).toBeUndefined();
    const drift = report.data?.driftReport;
    expect(drift).toMatchObject({
      threshold: 0.2,
      exceeded: true,
      reference: { kind: "WINDOW", feedback: 4 },
      live: { interactions: 20, feedback: 5 },
    });
    const topic = drift.dimensions.find((d: { dimension: string }) => d.dimension === "topic");
    // Reference P = (billing 1, shipping 0), live Q = (½, ½): M = (¾, ¼);
    // JS = ½·log2(4/3) + ½·(½·log2(2/3) + ½·log2(2)) = 0.2075187 + 0.1037594 = 0.3112781
    expect(topic.divergence).toBeCloseTo(0.3112781245, 9);
    expect(topic.exceeded).toBe(true);
    expect(topic.reference).toEqual([{ value: "billing", count: 4, share: 1 }]);
    const prompt = drift.dimensions.find(
      (d: { dimension: string }) => d.dimension === "prompt_length",
    );
    expect(prompt).toMatchObject({ divergence: 0, exceeded: false });
    const category = drift.dimensions.find(
      (d: { dimension: string }) => d.dimension === "category",
    );
    expect(category.reference).toEqual([{ value: "accuracy", count: 4, share: 1 }]);
    expect(category.divergence).toBeCloseTo(1, 12);
    expect(drift.dimensions.map((d: { dimension: string }) => d.dimension)).toEqual([
      "category",
      "prompt_length",
      "topic",
      "segment:plan",
      "segment:region",
    ]);

    await refreshThroughTheJob();
    const latest = await testApp.gql(/* GraphQL */ `
      query { latestDriftReport { exceeded computedAt dimensions { dimension divergence } } }
    `);
    expect(latest.data?.latestDriftReport.exceeded).toBe(true);
    expect(new Date(latest.data?.latestDriftReport.computedAt).toISOString()).toBe(
      now.toISOString(),
    );
    const [line] = await metric('loopgate_training_data_divergence{dimension="topic"}');
    expect(Number(line?.split(" ")[1])).toBeCloseTo(0.3112781245, 9);
    expect(Number(line?.split(" ")[1])).toBeGreaterThan(0.2);
  });

  it("takes a reference set of feedback ids (a dataset snapshot's)", async () => {
    const page = await testApp.gql(/* GraphQL */ `
      query { feedback(first: 2, filter: { categories: [ACCURACY] }) { edges { node { id } } } }
    `);
    const ids = page.data?.feedback.edges.map((edge: { node: { id: string } }) => edge.node.id);
    expect(ids).toHaveLength(2);
    const report = await testApp.gql(
      /* GraphQL */ `query($ids: [ID!]) { driftReport(referenceFeedbackIds: $ids) { reference { kind feedback window { from } } dimensions { dimension reference { value count } } } }`,
      { ids },
    );
    expect(report.errors).toBeUndefined();
    expect(report.data?.driftReport.reference).toEqual({
      kind: "FEEDBACK_IDS",
      feedback: 2,
      window: null,
    });
    const topic = report.data?.driftReport.dimensions.find(
      (d: { dimension: string }) => d.dimension === "topic",
    );
    expect(topic.reference).toEqual([{ value: "billing", count: 2 }]);
  });
});
