import { ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  labelStudioProjectTitle,
  type ProjectKind,
} from "../../src/integrations/sync/labelstudio-sync.js";
import { type FakeLabelStudio, startFakeLabelStudio } from "../fakes/labelstudio.js";
import { waitUntil } from "../support/poll.js";
import { useGatewayProcesses } from "../support/process.js";

/**
 * A gateway killed with SIGKILL in the middle of a Label Studio push (whose task import is not
 * idempotent) and started again on the same store: the sync resumes from its checkpoint and every
 * review item ends up as exactly one task per project — none lost, none doubled.
 */
const ITEMS = 400;

describe("an integration sync killed mid-way", () => {
  const gateways = useGatewayProcesses("synccrash");
  const db = gateways.db;
  let fake: FakeLabelStudio;
  let env: Record<string, string>;

  beforeAll(async () => {
    fake = await startFakeLabelStudio();
    const now = new Date();
    const interactions = Array.from({ length: ITEMS }, (_, index) => ({
      _id: new ObjectId(),
      query: `question ${index}`,
      response: `answer ${index}`,
      model: { id: "m", version: "1" },
      createdAt: now,
      recordedAt: now,
      payloadHash: `hash-${index}`,
      feedbackSummary: {
        count: 0,
        positive: 0,
        negative: 0,
        hasCorrection: false,
        flagged: false,
        safetyFlagged: false,
        revision: 0,
      },
      feedbackRevision: 0,
    }));
    await db.collection("interactions").insertMany(interactions);
    await db.collection("routedItems").insertMany(
      interactions.map((interaction, index) => ({
        _id: new ObjectId(),
        route: "expert_review",
        state: "open",
        groupKey: `g${index}`,
        category: null,
        priority: 1,
        feedbackIds: [],
        feedbackCount: 1,
        interactionIds: [interaction._id],
        reason: "low quality score",
        createdAt: now,
        updatedAt: now,
      })),
    );
    env = {
      LOOPGATE_SECRET: "sync-crash-secret-sync-crash-secret-0123",
      LABEL_STUDIO_URL: fake.url,
      LABEL_STUDIO_API_KEY: fake.legacyToken,
      INTEGRATIONS_SYNC_SECONDS: "5",
      JOBS_LEASE_MS: "2000",
      JOBS_POLL_MS: "50",
    };
  });
  afterAll(async () => {
    await fake.close();
  });

  const tasksOf = (kind: ProjectKind) => {
    const project = [...fake.state.projects.values()].find(
      (p) => p.title === labelStudioProjectTitle(kind),
    );
    return project ? [...fake.state.tasks.values()].filter((t) => t.project === project.id) : [];
  };

  it("resumes after SIGKILL and ends with exactly one task per item and project", async () => {
    // Slow imports, so the kill lands in the middle of the push.
    fake.server.inject({
      fault: { kind: "delay", ms: 300 },
      times: 1_000,
      method: "POST",
      path: "/import",
    });
    const first = await gateways.start(env);
    await waitUntil(() => fake.state.tasks.size >= 250, {
      timeoutMs: 60_000,
      intervalMs: 20,
      what: "the push to be under way",
    });
    first.child.kill("SIGKILL");
    await first.exited;
    const atKill = fake.state.tasks.size;
    expect(atKill).toBeLessThan(ITEMS * 3);

    await gateways.start(env);
    await waitUntil(
      async () =>
        Boolean(
          (await db.collection("syncState").findOne({ _id: "labelstudio:push" as never }))
            ?.lastSuccessAt,
        ),
      { timeoutMs: 90_000, intervalMs: 200, what: "the push to finish after the restart" },
    );
    for (const kind of ["rating", "correction", "choices"] as const) {
      // One project per kind: the push and the pull start together and must not both create it.
      const titled = [...fake.state.projects.values()].filter(
        (p) => p.title === labelStudioProjectTitle(kind),
      );
      expect(titled, kind).toHaveLength(1);
      const tasks = tasksOf(kind);
      const ids = tasks.map((t) => t.meta.loopgateInteractionId);
      expect(new Set(ids).size, kind).toBe(ITEMS);
      expect(tasks, kind).toHaveLength(ITEMS);
    }
    expect(
      await db.collection("externalLinks").countDocuments({ integration: "labelstudio" }),
    ).toBe(ITEMS * 3);
  }, 240_000);
});
