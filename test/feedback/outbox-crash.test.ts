import type { Db } from "mongodb";
import { describe, expect, it } from "vitest";
import { summarize } from "../../src/feedback/summary.js";
import type { FeedbackDoc, InteractionDoc } from "../../src/store/documents.js";
import { waitUntil } from "../support/poll.js";
import { useGatewayProcesses } from "../support/process.js";

/**
 * The scenario, for real: a gateway process takes concurrent ratings and is killed with
 * SIGKILL; a new process on the same database must converge every derived state (one active
 * opinion per rater, digests that match the active feedback) without any client retrying.
 */
const ADMIN_KEY = "outbox-crash-admin-key-0123456789abcdef";
const CLIENTS = 32;

async function gql(url: string, query: string, variables: unknown) {
  const response = await fetch(`${url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any };
}

const RECORD = `mutation($input: RecordInteractionInput!) {
  recordInteraction(input: $input) { ... on RecordInteractionPayload { interaction { id } } }
}`;
const RATE = `mutation($input: RatingFeedbackInput!) {
  submitRating(input: $input) { __typename }
}`;

/** Every interaction's digest against its active feedback, and raters with two active opinions. */
async function divergence(db: Db) {
  const feedback = db.collection<FeedbackDoc>("feedback");
  const interactions = await db.collection<InteractionDoc>("interactions").find().toArray();
  let staleDigests = 0;
  for (const interaction of interactions) {
    const active = await feedback
      .find({ interactionIds: interaction._id, status: "active" })
      .toArray();
    const stored = interaction.feedbackSummary;
    const expected = summarize(active, stored?.revision ?? 0);
    if (active.length > 0 && JSON.stringify(stored) !== JSON.stringify(expected)) staleDigests++;
  }
  const doubled = await feedback
    .aggregate<{ _id: unknown }>([
      { $match: { status: "active", raterKey: { $exists: true } } },
      { $group: { _id: { subject: "$subject", key: "$key", rater: "$raterKey" }, n: { $sum: 1 } } },
      { $match: { n: { $gt: 1 } } },
    ])
    .toArray();
  return { staleDigests, doubledRaters: doubled.length };
}

describe("a gateway killed under load", () => {
  const gateways = useGatewayProcesses("crash");
  const db = gateways.db;
  const env = {
    LOOPGATE_SECRET: "crash-secret-crash-secret-crash-secret-0123",
    LOOPGATE_BOOTSTRAP_ADMIN_KEY: ADMIN_KEY,
    JOBS_SWEEP_SECONDS: "1",
    JOBS_POLL_MS: "50",
  };

  it("converges every digest and rater history after SIGKILL rounds, without client retries", async () => {
    let gateway = await gateways.start(env);
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const result = await gql(gateway.url, RECORD, {
        input: { query: `q${i}`, response: `r${i}`, model: { id: "m", version: "1" } },
      });
      ids.push(result.data.recordInteraction.interaction.id);
    }

    let leftPending = 0;
    for (let round = 0; round < 3; round++) {
      // Many raters changing their minds on few answers: every write supersedes and re-digests.
      let stop = false;
      let acknowledged = 0;
      const url = gateway.url;
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        for (let n = 0; !stop; n++) {
          const input = {
            interactionId: ids[(c * 7 + n) % ids.length],
            score: 1 + ((c + n) % 5),
            userId: `rater-${c % 6}`,
          };
          try {
            if ((await gql(url, RATE, { input })).data?.submitRating) acknowledged++;
          } catch {
            return; // the process is gone
          }
        }
      });
      while (acknowledged < 150) await new Promise((resolve) => setTimeout(resolve, 10));
      gateway.child.kill("SIGKILL");
      await gateway.exited;
      stop = true;
      await Promise.all(clients);
      leftPending += await db
        .collection("feedback")
        .countDocuments({ pendingSince: { $exists: true } });

      gateway = await gateways.start(env);
      await waitUntil(
        async () =>
          (await db.collection("feedback").countDocuments({ pendingSince: { $exists: true } })) ===
          0,
        { timeoutMs: 30_000, intervalMs: 100, what: "the outbox to drain after restart" },
      );
      expect(await divergence(db)).toEqual({ staleDigests: 0, doubledRaters: 0 });
    }
    // The kills did land between inserts and their post-write steps (else this proves nothing).
    expect(leftPending).toBeGreaterThan(0);
    gateway.child.kill("SIGTERM");
    await gateway.exited;
  }, 240_000);
});
