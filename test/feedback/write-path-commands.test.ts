import type { ObjectId } from "mongodb";
import { describe, expect, it } from "vitest";
import { actorOf } from "../../src/auth/actor.js";
import { createManualClock } from "../../src/clock.js";
import { parseId } from "../../src/ids.js";
import { interactionInput, RECORD, useTestApp } from "../support/app.js";

// A hand-moved clock: the key-config cache and the API key's lastUsedAt bookkeeping depend on
// time, the command counts must not.
const clock = createManualClock(new Date("2026-11-27T12:00:00Z"));
const testApp = useTestApp({ clock });

const THUMBS = /* GraphQL */ `
  mutation Thumbs($input: BinaryFeedbackInput!) {
    submitBinaryFeedback(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { id status } }
    }
  }
`;
const DIGEST = /* GraphQL */ `
  query Digest($id: ID!) {
    interaction(id: $id) { feedbackSummary { count positive negative } }
  }
`;

const IGNORED = /^(hello|isMaster|ismaster|ping|endSessions|saslStart|saslContinue)$/;

/**
 * The database commands one HTTP request sent (driver command monitoring), as
 * `commandName:collection`. The outbox's in-process remainder starts on a later turn of the event
 * loop than the answer (setImmediate), so it is drained first and is not counted here.
 */
async function commandsOf<T>(request: () => Promise<T>): Promise<{ result: T; sent: string[] }> {
  await testApp.services.outbox.drain();
  const start = testApp.commands.length;
  const result = await request();
  const sent = testApp.commands
    .slice(start)
    .filter((event) => !IGNORED.test(event.commandName))
    .map((event) => `${event.commandName}:${event.command[event.commandName]}`);
  return { result, sent };
}

async function thumbs(interactionId: string, positive: boolean, userId: string) {
  return commandsOf(async () => {
    const response = await testApp.gql(THUMBS, { input: { interactionId, positive, userId } });
    expect(response.data?.submitBinaryFeedback.__typename, JSON.stringify(response)).toBe(
      "SubmitFeedbackPayload",
    );
    return response.data?.submitBinaryFeedback.feedback as { id: string; status: string };
  });
}

async function record(overrides: Record<string, unknown> = {}) {
  return commandsOf(async () => {
    const response = await testApp.gql(RECORD, { input: interactionInput(overrides) });
    expect(response.data?.recordInteraction.__typename).toBe("RecordInteractionPayload");
    return response.data?.recordInteraction.interaction.id as string;
  });
}

/** `count` feedback by distinct raters, half positive, through the service (as a real load). */
async function preload(interactionId: string, count: number) {
  const principal = actorOf(
    await testApp.services.authenticate(
      new Headers({ authorization: `Bearer ${testApp.adminKey}` }),
    ),
  );
  for (let start = 0; start < count; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - start) }, (_, offset) =>
        testApp.services.feedback.submit(
          {
            kind: "binary",
            input: {
              interactionId: parseId(interactionId, ["Interaction"], "id") as ObjectId,
              positive: (start + offset) % 2 === 0,
              userId: `preloaded-${start + offset}`,
            },
          },
          principal,
        ),
      ),
    );
  }
  await testApp.services.outbox.drain();
}

const digestOf = async (id: string) =>
  (await testApp.gql(DIGEST, { id })).data?.interaction.feedbackSummary;

/** What one thumbs costs: authentication, the insert, the supersede, the digest's $inc. */
const FEEDBACK_COMMANDS = [
  "find:apiKeys",
  "insert:feedback",
  "findAndModify:feedback",
  "findAndModify:interactions",
];

describe("the write path's database commands (driver command monitoring)", () => {
  it("recordInteraction costs 2: authentication and the insert", async () => {
    await record(); // the credential's first use also records lastUsedAt, off the answer's path
    const { sent } = await record();
    expect(sent).toEqual(["find:apiKeys", "insert:interactions"]);
  });

  it("submitBinaryFeedback costs 4 with 1 and with 1,000 feedback already on the interaction, and the digest stays exact", async () => {
    for (const existing of [1, 1_000]) {
      const { result: id } = await record({ userId: `owner-${existing}` });
      await preload(id, existing);
      const positiveBefore = Math.ceil(existing / 2);
      const negativeBefore = existing - positiveBefore;

      // A new rater, then the same rater changing their mind (the supersede replaces one).
      const first = await thumbs(id, true, `rater-${existing}`);
      expect(first.sent).toEqual(FEEDBACK_COMMANDS);
      expect(await digestOf(id)).toEqual({
        count: existing + 1,
        positive: positiveBefore + 1,
        negative: negativeBefore,
      });
      const second = await thumbs(id, false, `rater-${existing}`);
      expect(second.sent).toEqual(FEEDBACK_COMMANDS);
      // The answer was true when given: the digest already holds the change, with no re-read.
      expect(await digestOf(id)).toEqual({
        count: existing + 1,
        positive: positiveBefore,
        negative: negativeBefore + 1,
      });
      expect(second.result.status).toBe("ACTIVE");
      expect(
        await testApp.store.collections.feedback.findOne({
          _id: parseId(first.result.id, ["BinaryFeedback"], "id"),
        }),
      ).toMatchObject({ status: "superseded" });
    }
  }, 240_000);

  it("reads an interaction this process has not seen once, then serves it from the cache", async () => {
    const { result: id } = await record();
    const interactionId = parseId(id, ["Interaction"], "id");
    // As if another process had recorded it: this one has never seen it.
    testApp.services.interactionCache.forget(interactionId);
    const cold = await thumbs(id, true, "cold-rater");
    expect(cold.sent).toEqual(["find:apiKeys", "find:interactions", ...FEEDBACK_COMMANDS.slice(1)]);
    const warm = await thumbs(id, true, "warm-rater");
    expect(warm.sent).toEqual(FEEDBACK_COMMANDS);
  });

  it("batches the markers of writes answered together into one clear", async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await record()).result));
    await testApp.services.outbox.drain();
    const start = testApp.commands.length;
    await Promise.all(
      ids.map((id, index) =>
        testApp.gql(THUMBS, {
          input: { interactionId: id, positive: true, userId: `batch-${index}` },
        }),
      ),
    );
    await testApp.services.outbox.drain();
    const clears = testApp.commands
      .slice(start)
      .filter(
        (event) =>
          event.commandName === "update" &&
          event.command.update === "feedback" &&
          JSON.stringify(event.command.updates).includes("pendingSince"),
      );
    expect(clears.length).toBeGreaterThanOrEqual(1);
    expect(clears.length).toBeLessThan(ids.length);
    expect(
      await testApp.store.collections.feedback.countDocuments({ pendingSince: { $exists: true } }),
    ).toBe(0);
  });
});
