import { describe, expect, it } from "vitest";
import { createArgillaClient } from "../../src/integrations/argilla/client.js";
import { argillaDatasetName } from "../../src/integrations/sync/argilla-sync.js";
import { type FakeArgilla, startFakeArgilla } from "../fakes/argilla.js";
import { waitUntil } from "../support/poll.js";
import { expectWebhookRefusesMethodAndSize, useSyncTestApp } from "./sync-app.js";
import { expertFeedback, seedAndPushThroughFaults, syncAndWait } from "./sync-support.js";

/**
 * Argilla both ways against the fake with faults on: review items pushed once each (counted on
 * Argilla's side), submitted responses arriving as expert feedback once each (counted on ours),
 * whether their webhooks arrive, arrive twice or never.
 */
let fake: FakeArgilla;
const env: Record<string, string> = {};

const { testApp } = useSyncTestApp(env, async (forwarder) => {
  fake = await startFakeArgilla({ deliveryRetryMs: [50, 100, 200], deliveryTimeoutMs: 2_000 });
  const client = createArgillaClient({ baseUrl: fake.url, apiKey: fake.owner.api_key });
  const hook = await client.createWebhook({
    url: `${forwarder.url}/hooks/argilla`,
    events: ["response.created", "record.completed"],
  });
  Object.assign(env, {
    ARGILLA_API_URL: fake.url,
    ARGILLA_API_KEY: fake.owner.api_key,
    ARGILLA_WEBHOOK_SECRET: hook.secret,
    ARGILLA_MIN_SUBMITTED: "2",
    INTEGRATIONS_HTTP_TIMEOUT_MS: "700",
    JOBS_POLL_MS: "50",
  });
  return fake;
});

describe("Argilla sync", { timeout: 120_000 }, () => {
  let seeded: Awaited<ReturnType<typeof seedAndPushThroughFaults>>;

  it("pushes every open expert_review item and open conflict once, through 5xx, 429 and timeouts", async () => {
    // The second push, a repeat, must change nothing on Argilla's side.
    seeded = await seedAndPushThroughFaults(testApp, fake.server, "argilla", {
      seed: { routed: 12, conflicted: 4, tag: "argilla" },
      failing: { status: 503, method: "PUT", path: "/records/bulk" },
      throttled: { method: "GET", path: "/me/datasets" },
      slow: { method: "PUT", path: "/records/bulk" },
    });

    const datasets = [...fake.state.datasets.values()];
    expect(datasets.map((d) => d.name).sort()).toEqual(
      [argillaDatasetName("conflict"), argillaDatasetName("expert_review")].sort(),
    );
    for (const ds of datasets) {
      expect(ds.status).toBe("ready");
      expect(ds.distribution.min_submitted).toBe(2);
    }
    const records = [...fake.state.records.values()];
    const byDataset = (task: "expert_review" | "conflict") => {
      const id = datasets.find((d) => d.name === argillaDatasetName(task))!.id;
      return records
        .filter((r) => r.dataset_id === id)
        .map((r) => r.external_id)
        .sort();
    };
    expect(byDataset("expert_review")).toEqual([...seeded.routed].sort());
    expect(byDataset("conflict")).toEqual([...seeded.conflicted].sort());
    // The judge's ratings arrive as suggestions keyed by question id; corrections as alternatives.
    const judged = records.find((r) => r.external_id === seeded.routed[0]);
    expect(judged?.suggestions.length).toBeGreaterThan(0);
    expect(judged?.fields.alternatives).toContain("Settings → Privacy → Export (0)");

    // Retry-After: the retry of the refused listing waited at least the second it asked for.
    const listing = fake.server.requests.filter((r) => r.path.endsWith("/me/datasets"));
    const refused = listing.findIndex((r) => r.status === 429);
    expect(refused).toBeGreaterThanOrEqual(0);
    expect(listing[refused + 1]!.at - listing[refused]!.at).toBeGreaterThanOrEqual(950);

    const status = await testApp.gql(
      `{ integrations { name enabled directions { direction lastSuccessAt lagSeconds total { synced skipped failed } lastError { message } } } }`,
    );
    const argilla = status.data?.integrations.find((i: { name: string }) => i.name === "ARGILLA");
    expect(argilla.enabled).toBe(true);
    expect(argilla.directions[0].total.synced).toBe(16);
    expect(argilla.directions[0].lastError).toBeNull();
    const metrics = await (await testApp.app.fetch("http://localhost/metrics")).text();
    expect(metrics).toContain(
      'loopgate_integration_items_synced_total{integration="argilla",direction="push"} 16',
    );
    expect(metrics).toMatch(
      /loopgate_integration_sync_lag_seconds\{integration="argilla",direction="push"\} \d/,
    );
  });

  it("imports each submitted response once as expert feedback, whether its webhook arrives, is duplicated or is dropped", async () => {
    const alice = fake.addAnnotator("alice");
    const bob = fake.addAnnotator("bob");
    const records = [...fake.state.records.values()];
    fake.dropDeliveries(3);
    fake.duplicateDeliveries(3);
    let submitted = 0;
    for (const [index, record] of records.entries()) {
      // Both annotators agree on most records: a measurable, high agreement.
      const score = 1 + (index % 5);
      await fake.submitResponse(record.id, alice.id, {
        rating: { value: score },
        labels: { value: ["accuracy"] },
      });
      await fake.submitResponse(record.id, bob.id, {
        rating: { value: index % 4 === 0 ? Math.max(1, score - 1) : score },
        ...(index === 0 ? { correction: { value: "Open Settings → Privacy → Export data." } } : {}),
      });
      submitted += 2;
    }
    await fake.settled();
    // Some deliveries were dropped: the periodic pull backfills them.
    await syncAndWait(testApp, "argilla", "pull");
    await waitUntil(
      async () =>
        (await testApp.services.jobs.stats()).counts.every(
          (c) =>
            c.type !== "integration.webhook" || (c.state !== "queued" && c.state !== "running"),
        ),
      {
        timeoutMs: 20_000,
        what: "webhook jobs to finish",
      },
    );
    // Once more: nothing new.
    await syncAndWait(testApp, "argilla", "pull");

    const feedback = await expertFeedback(testApp, "argilla:");
    const ratings = feedback.filter((f) => f.key === "expert_rating");
    expect(ratings).toHaveLength(submitted);
    const responseIds = ratings.map((f) => f.metadata?.argillaResponseId);
    expect(new Set(responseIds).size).toBe(submitted);
    expect(feedback.filter((f) => f.key === "expert_correction")).toHaveLength(1);
    expect(new Set(ratings.map((f) => f.annotatorId))).toEqual(
      new Set([`argilla:${alice.id}`, `argilla:${bob.id}`]),
    );
    expect(
      ratings.every((f) => f.category === "accuracy" || f.annotatorId === `argilla:${bob.id}`),
    ).toBe(true);
    // Deliveries were accepted, dropped and duplicated along the way.
    expect(fake.state.deliveries.some((d) => d.status === 202)).toBe(true);
    expect(fake.state.deliveries.some((d) => d.status === -1)).toBe(true);
    const webhookJobs = await testApp.store.collections.jobs.countDocuments({
      type: "integration.webhook",
    });
    expect(webhookJobs).toBeGreaterThan(0);

    const agreement = await testApp.gql(
      `{ expertAgreement(key: "expert_rating") { items annotators alpha pairwise } }`,
    );
    expect(agreement.data?.expertAgreement).toMatchObject({ items: records.length, annotators: 2 });
    expect(agreement.data?.expertAgreement.alpha).toBeGreaterThan(0.7);
  });

  it("refuses a delivery with a wrong signature and changes nothing", async () => {
    const before = await testApp.store.collections.jobs.countDocuments({});
    const response = await testApp.app.fetch("http://localhost/hooks/argilla", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "webhook-id": "msg_forged",
        "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
        "webhook-signature": "v1,Zm9yZ2Vk",
      },
      body: JSON.stringify({
        type: "response.created",
        version: 1,
        timestamp: new Date().toISOString(),
        data: {},
      }),
    });
    expect(response.status).toBe(401);
    expect(await testApp.store.collections.jobs.countDocuments({})).toBe(before);
  });
  it("answers 405 to another method and 413 to an oversized delivery, and queues nothing", () =>
    expectWebhookRefusesMethodAndSize(testApp, "http://localhost/hooks/argilla"));
});
