import { describe, expect, it } from "vitest";
import { createLabelStudioClient } from "../../src/integrations/labelstudio/client.js";
import {
  labelStudioProjectTitle,
  type ProjectKind,
  projectKinds,
} from "../../src/integrations/sync/labelstudio-sync.js";
import { type FakeLabelStudio, startFakeLabelStudio } from "../fakes/labelstudio.js";
import { waitUntil } from "../support/poll.js";
import { expectWebhookRefusesMethodAndSize, useSyncTestApp } from "./sync-app.js";
import { expertFeedback, seedAndPushThroughFaults, syncAndWait } from "./sync-support.js";

/**
 * Label Studio both ways against the fake with faults on. Label Studio's import is not idempotent
 * and its webhooks are unsigned, unretried and may be dropped: tasks must still exist once per
 * interaction and project, and each annotation version must arrive once as expert feedback.
 */
const TOKEN = "ls-webhook-token-0123456789abcdef";
let fake: FakeLabelStudio;
const env: Record<string, string> = {};

const sync = useSyncTestApp(env, async () => {
  fake = await startFakeLabelStudio();
  Object.assign(env, {
    LABEL_STUDIO_URL: fake.url,
    // A Personal Access Token: exchanged for short-lived access tokens.
    LABEL_STUDIO_API_KEY: fake.createPersonalAccessToken(),
    LABEL_STUDIO_WEBHOOK_TOKEN: TOKEN,
    LABEL_STUDIO_MAX_ANNOTATIONS: "2",
    INTEGRATIONS_HTTP_TIMEOUT_MS: "700",
    JOBS_POLL_MS: "50",
  });
  return fake;
});
const testApp = sync.testApp;

const projectId = (kind: ProjectKind) =>
  [...fake.state.projects.values()].find((p) => p.title === labelStudioProjectTitle(kind))!.id;
const tasksOf = (kind: ProjectKind) =>
  [...fake.state.tasks.values()].filter((t) => t.project === projectId(kind));

describe("Label Studio sync", { timeout: 120_000 }, () => {
  let seeded: Awaited<ReturnType<typeof seedAndPushThroughFaults>>;

  it("imports one task per review item and project, with the judge's predictions, through faults", async () => {
    seeded = await seedAndPushThroughFaults(testApp, fake.server, "labelstudio", {
      seed: { routed: 9, conflicted: 3, tag: "ls" },
      failing: { status: 502, method: "GET", path: "/api/projects/" },
      throttled: { method: "POST", path: "/import" },
      // An import whose answer is lost (the server stored the tasks): must not duplicate them.
      slow: { method: "POST", path: "/import" },
    });

    expect(fake.state.projects.size).toBe(projectKinds.length);
    const everyone = [...seeded.routed, ...seeded.conflicted].sort();
    for (const kind of ["rating", "correction", "choices"] as const) {
      const ids = tasksOf(kind).map((t) => t.meta.loopgateInteractionId as string);
      expect(ids.sort()).toEqual(everyone);
    }
    // Pairwise tasks only where an alternative answer exists (a user's correction).
    const withAlternative = everyone.filter((id) => seeded.interactionIds.indexOf(id) % 3 === 0);
    expect(
      tasksOf("pairwise")
        .map((t) => t.meta.loopgateInteractionId)
        .sort(),
    ).toEqual(withAlternative.sort());
    const predicted = [...fake.state.predictions.values()].filter(
      (p) => p.project === projectId("rating"),
    );
    expect(predicted.length).toBe(
      everyone.filter((id) => seeded.interactionIds.indexOf(id) % 2 === 0).length,
    );

    const imports = fake.server.requests.filter((r) => r.path.endsWith("/import"));
    const refused = imports.findIndex((r) => r.status === 429);
    expect(imports[refused + 1]!.at - imports[refused]!.at).toBeGreaterThanOrEqual(950);
  });

  it("turns every annotation into expert feedback once, with dropped and duplicated webhooks, and backfills by paging", async () => {
    const client = createLabelStudioClient({ baseUrl: fake.url, apiKey: fake.legacyToken });
    for (const kind of projectKinds)
      await client.createWebhook({
        project: projectId(kind),
        url: `${sync.forwarder.url}/hooks/labelstudio`,
        headers: { "X-Loopgate-Webhook-Token": TOKEN },
        actions: ["ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED"],
      });
    fake.dropDeliveries(4);
    fake.duplicateDeliveries(4);
    let expected = 0;
    for (const [index, task] of tasksOf("rating").entries()) {
      for (const user of [11, 12]) {
        const rating =
          user === 11 ? 1 + (index % 5) : 1 + ((index + (index % 3 === 0 ? 1 : 0)) % 5);
        await fake.annotate(
          task.id,
          [{ from_name: "rating", to_name: "response", type: "rating", value: { rating } }],
          user,
        );
        expected += 1;
      }
    }
    const [first, second] = tasksOf("choices");
    await fake.annotate(
      first!.id,
      [
        {
          from_name: "verdict",
          to_name: "response",
          type: "choices",
          value: { choices: ["good"] },
        },
      ],
      11,
    );
    const wrong = await fake.annotate(
      second!.id,
      [
        {
          from_name: "verdict",
          to_name: "response",
          type: "choices",
          value: { choices: ["accuracy"] },
        },
      ],
      11,
    );
    const pair = tasksOf("pairwise")[0]!;
    await fake.annotate(
      pair.id,
      [
        {
          from_name: "comparison",
          to_name: "comparison",
          type: "pairwise",
          value: { selected: "right" },
        },
      ],
      12,
    );
    const fix = tasksOf("correction")[0]!;
    await fake.annotate(
      fix.id,
      [
        {
          from_name: "corrected",
          to_name: "prompt",
          type: "textarea",
          value: { text: ["Use Settings → Privacy → Export."] },
        },
      ],
      12,
    );
    // The annotator changes their mind: a new version that supersedes the first.
    await fake.updateAnnotation(wrong.id, [
      {
        from_name: "verdict",
        to_name: "response",
        type: "choices",
        value: { choices: ["format"] },
      },
    ]);

    await syncAndWait(testApp, "labelstudio", "pull");
    await waitUntil(
      async () =>
        (await testApp.store.collections.jobs.countDocuments({
          type: "integration.webhook",
          state: { $in: ["queued", "running"] },
        })) === 0,
      { timeoutMs: 20_000, what: "webhook jobs to finish" },
    );
    await syncAndWait(testApp, "labelstudio", "pull");

    const feedback = await expertFeedback(testApp, "labelstudio:");
    const ratings = feedback.filter((f) => f.key === "expert_rating");
    expect(ratings).toHaveLength(expected);
    expect(new Set(ratings.map((f) => f.metadata?.labelStudioAnnotationId)).size).toBe(expected);
    const verdicts = feedback.filter((f) => f.key === "expert_verdict");
    expect(verdicts).toHaveLength(3);
    expect(
      verdicts
        .filter((f) => f.status === "active")
        .map((f) => f.category ?? "good")
        .sort(),
    ).toEqual(["format", "good"]);
    const preference = feedback.find((f) => f.key === "expert_preference");
    expect(preference?.comparison?.preferred).toBe("b");
    expect(feedback.find((f) => f.key === "expert_correction")?.correction?.correctedResponse).toBe(
      "Use Settings → Privacy → Export.",
    );
    expect(fake.state.deliveries.some((d) => d.status === -1)).toBe(true);
    expect(fake.state.deliveries.some((d) => d.status === 202)).toBe(true);

    const agreement = await testApp.services.integrations.expertAgreement("expert_rating");
    expect(agreement).toMatchObject({ items: tasksOf("rating").length, annotators: 2 });
    expect(agreement.pairwise).toBeGreaterThan(0.5);
  });

  it("refuses a delivery without the configured header and changes nothing", async () => {
    const before = await testApp.store.collections.jobs.countDocuments({});
    const response = await testApp.app.fetch("http://localhost/hooks/labelstudio", {
      method: "POST",
      headers: { "content-type": "application/json", "X-Loopgate-Webhook-Token": "wrong" },
      body: JSON.stringify({ action: "ANNOTATION_CREATED" }),
    });
    expect(response.status).toBe(401);
    expect(await testApp.store.collections.jobs.countDocuments({})).toBe(before);
  });
  it("answers 405 to another method and 413 to an oversized delivery, and queues nothing", () =>
    expectWebhookRefusesMethodAndSize(testApp, "http://localhost/hooks/labelstudio"));
});
