import { createHash } from "node:crypto";
import { decodeGlobalID } from "@pothos/plugin-relay";
import { ObjectId } from "mongodb";
import { stringify } from "safe-stable-stringify";
import { beforeAll, describe, expect, it } from "vitest";
import { ERASED_TEXT } from "../../src/privacy/erasure.js";
import { createPseudonymizer } from "../../src/privacy/pseudonym.js";
import { createRedactor, type PiiKind } from "../../src/privacy/redaction.js";
import type { RedactionCounts } from "../../src/store/documents.js";
import { collectionNames } from "../../src/store/schema.js";
import {
  type FeedbackKindName,
  interactionInput,
  RECORD,
  recordInteraction,
  SUBMIT_MUTATIONS,
  storedCounts,
  type TestApp,
  useTestApp,
} from "../support/app.js";

/** What someone holding a database copy but not the secret can compute from a guess. */
function unkeyedHash(value: unknown): string {
  return createHash("sha256")
    .update(stringify(value) ?? "")
    .digest("base64url");
}

const hex = (globalId: string) => decodeGlobalID(globalId).id;
const oid = (globalId: string) => new ObjectId(hex(globalId));
const allKinds: PiiKind[] = ["email", "phone", "card", "ip"];

/** Every document of every collection, as one JSON string. */
async function dump(app: TestApp, except: string[] = []): Promise<string> {
  const parts: unknown[] = [];
  for (const name of collectionNames) {
    if (except.includes(name)) continue;
    parts.push(await app.store.collections[name].find({}).toArray());
  }
  return JSON.stringify(parts);
}

type Kind = FeedbackKindName;
const feedbackMutations = SUBMIT_MUTATIONS;

const FEEDBACK_FIELDS = /* GraphQL */ `
  id kind userId comment metadata
  redactions { email phone card ip }
  ... on CommentFeedback { text }
  ... on CorrectionFeedback { originalResponse correctedResponse }
  ... on FlagFeedback { reason }
  ... on ComparisonFeedback { prompt reason a { text } b { text } }
`;

/** Submits feedback with the app's admin key; fails the test unless it was stored. */
async function submit(app: TestApp, kind: Kind, input: Record<string, unknown>) {
  const [field, inputType] = feedbackMutations[kind];
  const result = await app.gql(
    `mutation ($input: ${inputType}!) {
      ${field}(input: $input) {
        __typename
        ... on SubmitFeedbackPayload { feedback { ${FEEDBACK_FIELDS} } conflict { id } }
        ... on Error { code message }
      }
    }`,
    { input },
  );
  const payload = result.data?.[field];
  if (payload?.__typename !== "SubmitFeedbackPayload") {
    throw new Error(`${field} failed: ${JSON.stringify(result)}`);
  }
  return payload;
}

const INTERACTION_FIELDS = /* GraphQL */ `
  id query response userId sessionId metadata settings erased
  messages { role content }
  redactions { email phone card ip }
`;

async function record(app: TestApp, input: Record<string, unknown>) {
  const result = await app.gql(
    `mutation ($input: RecordInteractionInput!) {
      recordInteraction(input: $input) {
        __typename
        ... on RecordInteractionPayload { interaction { ${INTERACTION_FIELDS} } }
        ... on Error { code message }
      }
    }`,
    { input },
  );
  const payload = result.data?.recordInteraction;
  if (payload?.__typename !== "RecordInteractionPayload") {
    throw new Error(`recordInteraction failed: ${JSON.stringify(result)}`);
  }
  return payload.interaction;
}

const noRedactions = { email: 0, phone: 0, card: 0, ip: 0 };

/** An interaction with every kind of PII in every text field. */
const piiInteraction = () =>
  interactionInput({
    query: "I am jane.doe@example.com, call me on +1 415 555 0100",
    response: "Card 4111 1111 1111 1111 was charged from 192.168.1.20.",
    messages: [
      { role: "user", content: "My IPv6 is 2001:db8::8a2e:370:7334, mail j.d@example.org" },
      { role: "assistant", content: "Noted, nothing personal here." },
    ],
    metadata: {
      contact: "ops@example.net",
      nested: { phone: "+44 20 7946 0958", hosts: ["10.0.0.7"] },
      plain: "order 12345",
      count: 3,
    },
  });

const rawPii = [
  "jane.doe@example.com",
  "415 555 0100",
  "4111 1111 1111 1111",
  "192.168.1.20",
  "2001:db8::8a2e:370:7334",
  "j.d@example.org",
  "ops@example.net",
  "7946 0958",
  "10.0.0.7",
];

describe("PII redaction on ingest (default: every kind)", () => {
  const testApp = useTestApp();

  it("redacts an interaction's query, response, messages and metadata values and reports the counts", async () => {
    const interaction = await record(testApp, piiInteraction());
    expect(interaction).toMatchObject({
      query: "I am [REDACTED_EMAIL], call me on [REDACTED_PHONE]",
      response: "Card [REDACTED_CARD] was charged from [REDACTED_IP].",
      messages: [
        { role: "user", content: "My IPv6 is [REDACTED_IP], mail [REDACTED_EMAIL]" },
        { role: "assistant", content: "Noted, nothing personal here." },
      ],
      metadata: {
        contact: "[REDACTED_EMAIL]",
        nested: { phone: "[REDACTED_PHONE]", hosts: ["[REDACTED_IP]"] },
        plain: "order 12345",
        count: 3,
      },
      redactions: { email: 3, phone: 2, card: 1, ip: 3 },
    });
    const stored = JSON.stringify(
      await testApp.store.collections.interactions.findOne({ _id: oid(interaction.id) }),
    );
    for (const pii of rawPii) expect(stored).not.toContain(pii);
  });

  it("takes the query from redacted chat messages when none is given", async () => {
    const interaction = await record(
      testApp,
      interactionInput({
        query: undefined,
        messages: [{ role: "user", content: "Write to me at sam@example.com" }],
      }),
    );
    expect(interaction.query).toBe("Write to me at [REDACTED_EMAIL]");
    expect(interaction.redactions).toEqual({ ...noRedactions, email: 1 });
  });

  it("reports no redactions for text without PII", async () => {
    const interaction = await record(testApp, interactionInput());
    expect(interaction.redactions).toBeNull();
  });

  it("redacts feedback comments, corrections, flag reasons and comparison texts and reports the counts", async () => {
    const { id } = await recordInteraction(testApp, { userId: "pii-feedback-user" });
    const results = {
      comment: await submit(testApp, "comment", {
        interactionId: id,
        text: "Reach me at amy@example.com",
      }),
      binary: await submit(testApp, "binary", {
        interactionId: id,
        positive: false,
        comment: "Call 415-555-0100 instead",
        metadata: { from: "cc@example.com", page: "/help" },
      }),
      correction: await submit(testApp, "correction", {
        interactionId: id,
        correctedResponse: "Refund to card 5500 0055 5555 5559, receipt to amy@example.com",
      }),
      flag: await submit(testApp, "flag", {
        interactionId: id,
        category: "SAFETY",
        reason: "It revealed 10.1.2.3 and bob@example.com",
      }),
      comparison: await submit(testApp, "comparison", {
        prompt: "Which is better for x@example.com?",
        a: { text: "Send it to 203.0.113.9" },
        b: { interactionId: id },
        preferred: "B",
        reason: "A called +44 20 7946 0958",
      }),
    };
    expect(results.comment.feedback).toMatchObject({
      text: "Reach me at [REDACTED_EMAIL]",
      redactions: { ...noRedactions, email: 1 },
    });
    expect(results.binary.feedback).toMatchObject({
      comment: "Call [REDACTED_PHONE] instead",
      metadata: { from: "[REDACTED_EMAIL]", page: "/help" },
      redactions: { ...noRedactions, phone: 1, email: 1 },
    });
    expect(results.correction.feedback).toMatchObject({
      correctedResponse: "Refund to card [REDACTED_CARD], receipt to [REDACTED_EMAIL]",
      redactions: { ...noRedactions, card: 1, email: 1 },
    });
    expect(results.flag.feedback).toMatchObject({
      reason: "It revealed [REDACTED_IP] and [REDACTED_EMAIL]",
      redactions: { ...noRedactions, ip: 1, email: 1 },
    });
    expect(results.comparison.feedback).toMatchObject({
      prompt: "Which is better for [REDACTED_EMAIL]?",
      a: { text: "Send it to [REDACTED_IP]" },
      reason: "A called [REDACTED_PHONE]",
      redactions: { email: 1, ip: 1, phone: 1, card: 0 },
    });
    const stored = JSON.stringify(await testApp.store.collections.feedback.find().toArray());
    for (const pii of [
      "amy@example.com",
      "415-555-0100",
      "cc@example.com",
      "5500 0055 5555 5559",
      "10.1.2.3",
      "bob@example.com",
      "x@example.com",
      "203.0.113.9",
      "7946 0958",
    ]) {
      expect(stored).not.toContain(pii);
    }
  });

  it("reports no redactions on feedback without PII", async () => {
    const { id } = await recordInteraction(testApp);
    const { feedback } = await submit(testApp, "comment", { interactionId: id, text: "Fine." });
    expect(feedback.redactions).toBeNull();
  });
});

describe("PII_REDACT=none", () => {
  const testApp = useTestApp({ env: { PII_REDACT: "none" } });

  it("stores interaction and feedback texts unchanged", async () => {
    const input = piiInteraction();
    const interaction = await record(testApp, input);
    expect(interaction).toMatchObject({
      query: input.query,
      response: input.response,
      messages: input.messages,
      metadata: input.metadata,
      redactions: null,
    });
    const { feedback } = await submit(testApp, "comment", {
      interactionId: interaction.id,
      text: "Mail amy@example.com or call 415-555-0100",
    });
    expect(feedback).toMatchObject({
      text: "Mail amy@example.com or call 415-555-0100",
      redactions: null,
    });
  });
});

describe("PII_REDACT=email", () => {
  const testApp = useTestApp({ env: { PII_REDACT: "email" } });

  it("redacts only email addresses", async () => {
    const interaction = await record(testApp, piiInteraction());
    expect(interaction).toMatchObject({
      query: "I am [REDACTED_EMAIL], call me on +1 415 555 0100",
      response: "Card 4111 1111 1111 1111 was charged from 192.168.1.20.",
      messages: [
        { content: "My IPv6 is 2001:db8::8a2e:370:7334, mail [REDACTED_EMAIL]" },
        { content: "Noted, nothing personal here." },
      ],
      metadata: {
        contact: "[REDACTED_EMAIL]",
        nested: { phone: "+44 20 7946 0958", hosts: ["10.0.0.7"] },
      },
      redactions: { ...noRedactions, email: 3 },
    });
    const { feedback } = await submit(testApp, "flag", {
      interactionId: interaction.id,
      category: "OTHER",
      reason: "amy@example.com at 10.1.2.3",
    });
    expect(feedback).toMatchObject({
      reason: "[REDACTED_EMAIL] at 10.1.2.3",
      redactions: { ...noRedactions, email: 1 },
    });
  });
});

describe("createRedactor", () => {
  const redactor = createRedactor(allKinds);
  /** Each text redacted on its own: what came out, and what was counted. */
  const run = (texts: readonly string[], kinds: readonly PiiKind[] = allKinds) => {
    const instance = kinds === allKinds ? redactor : createRedactor(kinds);
    return texts.map((text) => {
      const counts: RedactionCounts = {};
      return { text: instance.redact(text, counts), counts };
    });
  };
  const unchanged = (texts: readonly string[]) => texts.map((text) => ({ text, counts: {} }));

  it.each([
    ["email", "jane.doe+news@mail.example.co.uk"],
    ["phone", "+1 415 555 0100"],
    ["phone", "(415) 555-0100"],
    ["phone", "415-555-0100"],
    ["phone", "+44 20 7946 0958"],
    ["phone", "+14155550100"],
    ["phone", "+49 30 1234567"],
    ["card", "4111 1111 1111 1111"],
    ["card", "4111-1111-1111-1111"],
    ["card", "5500005555555559"],
    ["ip", "192.168.1.20"],
    ["ip", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"],
    ["ip", "2001:db8::8a2e:370:7334"],
  ] as const)("redacts %s %s", (kind, pii) => {
    const counts: RedactionCounts = {};
    const out = redactor.redact(`before ${pii} after`, counts);
    expect(out).toBe(`before [REDACTED_${kind.toUpperCase()}] after`);
    expect(counts).toEqual({ [kind]: 1 });
  });

  it("redacts a card followed by its expiry date or CVV, and each of two cards in a row", () => {
    expect(
      run([
        "card 4111 1111 1111 1111 12/28 cvv 123",
        "4111111111111111 123",
        "cards 4111 1111 1111 1111 5500 0055 5555 5559",
      ]),
    ).toEqual([
      { text: "card [REDACTED_CARD] 12/28 cvv 123", counts: { card: 1 } },
      { text: "[REDACTED_CARD] 123", counts: { card: 1 } },
      { text: "cards [REDACTED_CARD] [REDACTED_CARD]", counts: { card: 2 } },
    ]);
  });

  it("leaves dates alone", () => {
    const dates = [
      "2026-11-26",
      "26.11.2026",
      "26-11-2026",
      "26/11/2026",
      "11/26/2026",
      "2026.11.26",
      "2026/11/26",
      "from 2019-2024",
    ];
    expect(run(dates)).toEqual(unchanged(dates));
  });

  it("leaves times and timestamps alone", () => {
    const times = [
      "12:30",
      "12:30:45",
      "9:05 am",
      "open 09:00-17:30",
      "13:36:00.123",
      "2026-11-26T13:36:00Z",
      "2026-11-26T13:36:00.123+01:00",
      "2026-11-26 13:36",
      "2026-11-26 13:36:00",
      "26.11.2026 13:36",
      "epoch 1732628160 or 1732628160123",
    ];
    expect(run(times)).toEqual(unchanged(times));
  });

  it("leaves version numbers alone", () => {
    const versions = [
      "v1.2.3",
      "1.2.3",
      "v1.2.3.4",
      "node v20.19.43",
      "Chrome 120.0.6099.109",
      "Windows 10.0.19045.2965",
      "release 2024.10.1",
      "model gpt-4o-2024-08-06",
    ];
    expect(run(versions)).toEqual(unchanged(versions));
  });

  it("leaves order numbers and other digit runs that fail the Luhn check alone", () => {
    const numbers = [
      "order #100234987",
      "Order 1234567890123",
      "order ORD-2026-000123",
      "ref 4111111111111112",
      "1234 5678 9012 3456",
      "1234-5678-9012-3456",
      "12345678901234567890",
      "pages 120-135",
      "total 1,234,567.89",
    ];
    expect(run(numbers)).toEqual(unchanged(numbers));
  });

  it("redacts only the kinds it is configured with", () => {
    const text = "a@b.io, 415-555-0100, 4111 1111 1111 1111, 10.0.0.1";
    expect(run([text], ["email"])).toEqual([
      {
        text: "[REDACTED_EMAIL], 415-555-0100, 4111 1111 1111 1111, 10.0.0.1",
        counts: { email: 1 },
      },
    ]);
    expect(run([text], ["card", "ip"])).toEqual([
      { text: "a@b.io, 415-555-0100, [REDACTED_CARD], [REDACTED_IP]", counts: { card: 1, ip: 1 } },
    ]);
    expect(run([text], [])).toEqual(unchanged([text]));
  });

  it("redactDeep redacts strings at any depth, keys included, and keeps other values", () => {
    const counts: RedactionCounts = {};
    const out = redactor.redactDeep(
      { "a@b.io": "x", list: ["c@d.io", 7, true, null, { ip: "10.0.0.1" }], n: 1 },
      counts,
    );
    expect(out).toEqual({
      "[REDACTED_EMAIL]": "x",
      list: ["[REDACTED_EMAIL]", 7, true, null, { ip: "[REDACTED_IP]" }],
      n: 1,
    });
    expect(counts).toEqual({ email: 2, ip: 1 });
  });
});

describe("pseudonymous user ids", () => {
  const testApp = useTestApp();
  const otherSecretApp = useTestApp({
    env: { LOOPGATE_SECRET: "another-secret-another-secret-another-0123" },
  });

  it("the raw user id appears nowhere in the database", async () => {
    const raw = {
      author: "customer-raw-7f3a91",
      rater: "rater-raw-22bd04",
      erased: "gone-raw-5c1e88",
    };
    const recorded = await testApp.gql(RECORD, {
      input: interactionInput({ userId: raw.author, sessionId: "s-raw-check" }),
      token: true,
    });
    const { id, userId } = recorded.data?.recordInteraction.interaction ?? {};
    const token = recorded.data?.recordInteraction.feedbackToken.token;
    expect(userId).toMatch(/^u_[0-9a-f]{32}$/);
    await submit(testApp, "rating", { interactionId: id, score: 2, userId: raw.rater });
    await submit(testApp, "binary", { interactionId: id, positive: true });
    const byToken = await testApp.gql(
      "mutation ($input: CommentFeedbackInput!) { submitComment(input: $input) { __typename } }",
      { input: { interactionId: id, text: "Thanks" } },
      token,
    );
    expect(byToken.data?.submitComment.__typename).toBe("SubmitFeedbackPayload");
    await recordInteraction(testApp, { userId: raw.erased });
    const erased = await testApp.gql(
      "mutation ($u: String!) { eraseUser(userId: $u) { __typename ... on ErasureReport { userId interactions } } }",
      { u: raw.erased },
    );
    expect(erased.data?.eraseUser).toMatchObject({ __typename: "ErasureReport", interactions: 1 });
    expect(erased.data?.eraseUser.userId).not.toContain(raw.erased);

    const everything = await dump(testApp);
    expect(everything).toContain(userId);
    for (const value of Object.values(raw)) expect(everything).not.toContain(value);
  });

  it("the same user always gets the same pseudonym, different users different ones", async () => {
    const first = await record(testApp, interactionInput({ userId: "same-user" }));
    const second = await record(testApp, interactionInput({ userId: "same-user" }));
    const other = await record(testApp, interactionInput({ userId: "other-user" }));
    expect(first.userId).toMatch(/^u_[0-9a-f]{32}$/);
    expect(second.userId).toBe(first.userId);
    expect(other.userId).not.toBe(first.userId);
    // Feedback given by that user elsewhere carries the same pseudonym.
    const { feedback } = await submit(testApp, "binary", {
      interactionId: other.id,
      positive: true,
      userId: "same-user",
    });
    expect(feedback.userId).toBe(first.userId);
    // And the pseudonym finds all of the user's interactions.
    const listed = await testApp.gql(
      "query ($u: String!) { interactions(filter: { userId: $u }) { edges { node { id } } } }",
      { u: first.userId },
    );
    expect(
      listed.data?.interactions.edges.map((edge: { node: { id: string } }) => edge.node.id),
    ).toEqual(expect.arrayContaining([first.id, second.id]));
    expect(listed.data?.interactions.edges).toHaveLength(2);
  });

  it("another secret gives other pseudonyms", async () => {
    const here = await record(testApp, interactionInput({ userId: "portable-user" }));
    const there = await record(otherSecretApp, interactionInput({ userId: "portable-user" }));
    expect(there.userId).toMatch(/^u_[0-9a-f]{32}$/);
    expect(there.userId).not.toBe(here.userId);

    const a = createPseudonymizer("secret-number-one-secret-number-one");
    const b = createPseudonymizer("secret-number-two-secret-number-two");
    expect(a.pseudonymize("user-1")).toBe(a.pseudonymize("user-1"));
    expect(a.pseudonymize("user-1")).not.toBe(a.pseudonymize("user-2"));
    expect(a.pseudonymize("user-1")).not.toBe(b.pseudonymize("user-1"));
  });

  // pseudonym.ts promises that without the secret a raw id cannot be "confirmed by guessing".
  // Anyone who can read the database and knows the (open-source) payload hashing can try
  // candidate user ids against the unkeyed payloadHash of what was stored.
  it("no stored hash lets someone without the secret confirm a guessed user id", async () => {
    const guess = "guessable-user-42";
    const input = interactionInput({ userId: guess });
    const interaction = await record(testApp, input);
    const { feedback } = await submit(testApp, "binary", {
      interactionId: interaction.id,
      positive: true,
      userId: guess,
    });
    const interactionDoc = await testApp.store.collections.interactions.findOne({
      _id: oid(interaction.id),
    });
    const feedbackDoc = await testApp.store.collections.feedback.findOne({ _id: oid(feedback.id) });
    const guessed = {
      interaction: unkeyedHash(input),
      feedback: unkeyedHash({
        kind: "binary",
        parsed: {
          interactionId: hex(interaction.id),
          positive: true,
          source: "user",
          userId: guess,
        },
      }),
    };
    expect({
      interactionHashConfirmsGuess: interactionDoc?.payloadHash === guessed.interaction,
      feedbackHashConfirmsGuess: feedbackDoc?.payloadHash === guessed.feedback,
    }).toEqual({ interactionHashConfirmsGuess: false, feedbackHashConfirmsGuess: false });
  });
});

describe("eraseUser", () => {
  const testApp = useTestApp();

  const ERASE = /* GraphQL */ `
    mutation ($userId: String!, $mode: ErasureMode) {
      eraseUser(userId: $userId, mode: $mode) {
        __typename
        ... on ErasureReport { userId mode interactions feedback conflictsUpdated erasedAt }
        ... on Error { code message }
      }
    }
  `;
  const erase = async (userId: string, mode: "DELETE" | "ANONYMIZE") =>
    (await testApp.gql(ERASE, { userId, mode })).data?.eraseUser;
  const pseudonymOf = (raw: string) =>
    createPseudonymizer(testApp.config.secret ?? "").pseudonymize(raw);

  describe("DELETE", () => {
    const victim = "erase-delete-victim";
    const ids = { v1: "", v2: "", o1: "", keep: "" };
    let report: Record<string, unknown> = {};

    beforeAll(async () => {
      const v1 = await recordInteraction(testApp, { userId: victim });
      const v2 = await recordInteraction(testApp, { userId: victim });
      const o1 = await recordInteraction(testApp, { userId: "erase-delete-other" });
      Object.assign(ids, { v1: v1.id, v2: v2.id, o1: o1.id });
      // On the victim's own interaction: the victim and another rater disagree (a conflict).
      await submit(testApp, "binary", { interactionId: v1.id, positive: true });
      const onV1 = await submit(testApp, "binary", {
        interactionId: v1.id,
        positive: false,
        userId: "erase-rater-x",
      });
      expect(onV1.conflict).not.toBeNull();
      // On somebody else's interaction: the victim and another rater disagree too.
      await submit(testApp, "binary", { interactionId: o1.id, positive: false, userId: victim });
      const kept = await submit(testApp, "binary", {
        interactionId: o1.id,
        positive: true,
        userId: "erase-rater-y",
      });
      ids.keep = kept.feedback.id;
      const onO1 = await testApp.store.collections.conflicts.findOne({ interactionId: oid(o1.id) });
      expect(onO1?.status).toBe("open");
      // A comparison of someone else's answer with the victim's, and token feedback by the victim.
      await submit(testApp, "comparison", {
        a: { interactionId: o1.id },
        b: { interactionId: v2.id },
        preferred: "A",
        userId: "erase-rater-z",
      });
      const byToken = await testApp.gql(
        "mutation ($input: CommentFeedbackInput!) { submitComment(input: $input) { __typename } }",
        { input: { interactionId: v2.id, text: "Mine" } },
        v2.token,
      );
      expect(byToken.data?.submitComment.__typename).toBe("SubmitFeedbackPayload");

      report = await erase(victim, "DELETE");
    });

    it("reports exact counts, naming the user only by pseudonym", () => {
      expect(report).toMatchObject({
        __typename: "ErasureReport",
        userId: pseudonymOf(victim),
        mode: "DELETE",
        interactions: 2,
        // victim's two ratings, rater x on v1, the comparison touching v2, the token comment
        feedback: 5,
        // v1's conflict deleted, o1's re-evaluated
        conflictsUpdated: 2,
      });
    });

    it("removes the user's interactions, their feedback and others' feedback about those interactions", async () => {
      const c = testApp.store.collections;
      expect(
        await c.interactions.countDocuments({ _id: { $in: [oid(ids.v1), oid(ids.v2)] } }),
      ).toBe(0);
      expect(
        await c.feedback.countDocuments({ interactionIds: { $in: [oid(ids.v1), oid(ids.v2)] } }),
      ).toBe(0);
      expect(await c.feedback.countDocuments({ userId: pseudonymOf(victim) })).toBe(0);
      expect(await c.conflicts.countDocuments({ interactionId: oid(ids.v1) })).toBe(0);
      // Only the other rater's feedback on o1 is left.
      const left = await c.feedback.find({ interactionIds: oid(ids.o1) }).toArray();
      expect(left.map((doc) => doc._id.toHexString())).toEqual([hex(ids.keep)]);
      const everything = await dump(testApp, ["erasures"]);
      expect(everything).not.toContain(pseudonymOf(victim));
      expect(await dump(testApp)).not.toContain(victim);
    });

    it("refreshes the summary and conflict of other interactions the user had rated", async () => {
      const o1 = await testApp.store.collections.interactions.findOne({ _id: oid(ids.o1) });
      expect(o1?.feedbackSummary).toMatchObject({ count: 1, positive: 1, negative: 0 });
      const conflict = await testApp.store.collections.conflicts.findOne({
        interactionId: oid(ids.o1),
      });
      expect(conflict?.status).not.toBe("open");
      const viaApi = await testApp.gql(
        "query ($id: ID!) { interaction(id: $id) { feedbackSummary { count positive negative } conflict { status } } }",
        { id: ids.o1 },
      );
      expect(viaApi.data?.interaction).toEqual({
        feedbackSummary: { count: 1, positive: 1, negative: 0 },
        conflict: { status: "RESOLVED" },
      });
    });

    it("writes an audit entry with the pseudonym only", async () => {
      const entries = await testApp.store.collections.erasures
        .find({ userId: pseudonymOf(victim) })
        .toArray();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        mode: "delete",
        interactions: 2,
        feedback: 5,
        conflictsUpdated: 2,
        requestedBy: expect.stringContaining("test ingest+read+admin"),
      });
      expect(JSON.stringify(entries)).not.toContain(victim);
    });

    it("is safe to repeat: a second run changes nothing and reports zeros", async () => {
      const before = await storedCounts(testApp);
      const again = await erase(victim, "DELETE");
      expect(again).toMatchObject({ interactions: 0, feedback: 0, conflictsUpdated: 0 });
      expect(await storedCounts(testApp)).toEqual({ ...before, erasures: before.erasures + 1 });
    });
  });

  describe("ANONYMIZE", () => {
    const victim = "erase-anon-victim";
    const ids = { v3: "", o2: "" };
    const feedback: Record<string, string> = {};
    let report: Record<string, unknown> = {};
    let o2Response = "";

    beforeAll(async () => {
      const v3 = await record(testApp, {
        ...interactionInput({
          userId: victim,
          sessionId: "anon-session-1",
          query: "I am Quillfeather from Elmwood Crescent. Where is my parcel?",
          response: "Hi Quillfeather, the parcel to Elmwood Crescent arrives tomorrow.",
        }),
        messages: [{ role: "user", content: "I am Quillfeather from Elmwood Crescent." }],
        metadata: { plan: "pro", locale: "en-GB" },
        trace: { provider: "langsmith", runId: "run-anon-1" },
        idempotencyKey: "anon-interaction-0001",
      });
      const o2 = await record(testApp, interactionInput({ userId: "erase-anon-other" }));
      ids.v3 = v3.id;
      ids.o2 = o2.id;
      o2Response = o2.response;
      const add = async (name: string, kind: Kind, input: Record<string, unknown>) => {
        feedback[name] = (await submit(testApp, kind, input)).feedback.id;
      };
      // By the victim, on their own interaction.
      await add("ownRating", "rating", {
        interactionId: v3.id,
        score: 5,
        comment: "Loved it, Quillfeather here",
        metadata: { page: "/orders/quillfeather" },
        idempotencyKey: "anon-feedback-0001",
      });
      await add("ownFlag", "flag", {
        interactionId: v3.id,
        category: "SAFETY",
        severity: "HIGH",
        reason: "It repeated Elmwood Crescent",
      });
      // By the victim, on someone else's interaction.
      await add("binaryElsewhere", "binary", {
        interactionId: o2.id,
        positive: false,
        userId: victim,
      });
      await add("correctionElsewhere", "correction", {
        interactionId: o2.id,
        correctedResponse: "Quillfeather would say it better",
        userId: victim,
      });
      // By others, about the victim's interaction.
      await add("othersCorrection", "correction", {
        interactionId: v3.id,
        correctedResponse: "Hi Quillfeather, your parcel to Elmwood Crescent arrives on Friday.",
        userId: "anon-rater-p",
      });
      await add("othersComment", "comment", {
        interactionId: v3.id,
        text: "Quillfeather from Elmwood Crescent sounded upset",
        userId: "anon-rater-p",
      });
      await add("othersComparison", "comparison", {
        a: { interactionId: o2.id },
        b: { interactionId: v3.id },
        preferred: "B",
        reason: "B knew Quillfeather's street",
        userId: "anon-rater-q",
      });

      report = await erase(victim, "ANONYMIZE");
    });

    const stored = (name: string) =>
      testApp.store.collections.feedback.findOne({ _id: oid(feedback[name] ?? "") });

    it("reports exact counts", () => {
      expect(report).toMatchObject({
        __typename: "ErasureReport",
        userId: pseudonymOf(victim),
        mode: "ANONYMIZE",
        interactions: 1,
        feedback: 7,
        conflictsUpdated: 0,
      });
    });

    it("keeps the user's interaction as a text-free record", async () => {
      const doc = await testApp.store.collections.interactions.findOne({ _id: oid(ids.v3) });
      expect(doc).toMatchObject({
        query: ERASED_TEXT,
        response: ERASED_TEXT,
        model: { id: "support-bot", version: "v1" },
        feedbackSummary: { count: 5 },
        erasedAt: expect.any(Date),
      });
      for (const field of [
        "userId",
        "sessionId",
        "messages",
        "metadata",
        "trace",
        "idempotencyKey",
      ]) {
        expect(doc).not.toHaveProperty(field);
      }
      const viaApi = await testApp.gql(
        `query ($id: ID!) { interaction(id: $id) { ${INTERACTION_FIELDS} } }`,
        { id: ids.v3 },
      );
      expect(viaApi.data?.interaction).toMatchObject({
        query: ERASED_TEXT,
        response: ERASED_TEXT,
        userId: null,
        sessionId: null,
        messages: null,
        metadata: null,
        erased: true,
      });
    });

    it("keeps kind, sentiment and scores of the feedback", async () => {
      expect(await stored("ownRating")).toMatchObject({
        kind: "rating",
        sentiment: "positive",
        rating: { score: 5, min: 1, max: 5 },
      });
      expect(await stored("ownFlag")).toMatchObject({
        kind: "flag",
        sentiment: "negative",
        flag: { category: "safety", severity: "high" },
      });
      expect(await stored("binaryElsewhere")).toMatchObject({
        kind: "binary",
        sentiment: "negative",
        binary: { positive: false },
      });
      expect(await stored("othersComparison")).toMatchObject({
        kind: "comparison",
        comparison: { preferred: "b" },
      });
    });

    it("removes every text of the user and about the user's interaction", async () => {
      for (const name of Object.keys(feedback)) {
        const doc = await stored(name);
        expect(doc, name).not.toHaveProperty("comment");
        expect(doc, name).not.toHaveProperty("metadata");
        expect(doc, name).not.toHaveProperty("flag.reason");
        expect(doc, name).toHaveProperty("erasedAt");
      }
      expect((await stored("correctionElsewhere"))?.correction).toEqual({
        // The other user's answer is theirs, but the victim's rewrite goes.
        originalResponse: expect.toBeOneOf([o2Response, ERASED_TEXT]),
        correctedResponse: ERASED_TEXT,
      });
      expect((await stored("othersCorrection"))?.correction).toEqual({
        originalResponse: ERASED_TEXT,
        correctedResponse: ERASED_TEXT,
      });
      const comparison = (await stored("othersComparison"))?.comparison;
      expect(comparison).toMatchObject({
        prompt: ERASED_TEXT,
        a: { text: ERASED_TEXT },
        b: { text: ERASED_TEXT },
      });
      expect(comparison?.reason ?? ERASED_TEXT).toBe(ERASED_TEXT);
      // Nothing the victim said or that was said about them is left anywhere.
      const everything = await dump(testApp);
      for (const text of ["Quillfeather", "Elmwood", "anon-session-1", "run-anon-1"]) {
        expect(everything).not.toContain(text);
      }
    });

    it("removes every link to the user", async () => {
      for (const name of ["ownRating", "ownFlag", "binaryElsewhere", "correctionElsewhere"]) {
        const doc = await stored(name);
        for (const field of ["userId", "sessionId", "idempotencyKey"]) {
          expect(doc, `${name}.${field}`).not.toHaveProperty(field);
        }
        expect(doc?.raterKey ?? "", name).not.toMatch(/^user:/);
      }
      for (const name of ["othersCorrection", "othersComment", "othersComparison"]) {
        const doc = await stored(name);
        expect(doc, name).not.toHaveProperty("sessionId");
        expect(doc?.userId, name).not.toBe(pseudonymOf(victim));
      }
      expect(await dump(testApp, ["erasures"])).not.toContain(pseudonymOf(victim));
      expect(await dump(testApp)).not.toContain(victim);
      // Nor can a stored hash confirm who it was: the thumbs-down keeps its interaction, polarity
      // and source, so the user id would be the only unknown of its payload.
      const thumbs = await stored("binaryElsewhere");
      expect(thumbs?.payloadHash).not.toBe(
        unkeyedHash({
          kind: "binary",
          parsed: { interactionId: hex(ids.o2), positive: false, source: "user", userId: victim },
        }),
      );
    });

    it("is safe to repeat: a second run changes nothing and reports zeros", async () => {
      const before = await dump(testApp, ["erasures"]);
      const again = await erase(victim, "ANONYMIZE");
      expect(again).toMatchObject({ interactions: 0, feedback: 0, conflictsUpdated: 0 });
      expect(await dump(testApp, ["erasures"])).toBe(before);
    });
  });

  it("ANONYMIZE does not turn one user's mixed feedback into a disagreement between raters", async () => {
    const { id } = await recordInteraction(testApp, { userId: "erase-anon-solo" });
    await submit(testApp, "rating", { interactionId: id, score: 5 });
    await submit(testApp, "binary", { interactionId: id, positive: false });
    const conflicts = () =>
      testApp.store.collections.conflicts.countDocuments({
        interactionId: oid(id),
        status: "open",
      });
    expect(await conflicts()).toBe(0);
    expect(await erase("erase-anon-solo", "ANONYMIZE")).toMatchObject({
      interactions: 1,
      feedback: 2,
      conflictsUpdated: 0,
    });
    expect(await conflicts()).toBe(0);
  });

  it("erasing an unknown user reports zeros and still leaves an audit entry", async () => {
    const before = await storedCounts(testApp);
    expect(await erase("nobody-ever-seen", "DELETE")).toMatchObject({
      interactions: 0,
      feedback: 0,
      conflictsUpdated: 0,
    });
    expect(await storedCounts(testApp)).toEqual({ ...before, erasures: before.erasures + 1 });
  });

  it("rejects an empty user id and changes nothing", async () => {
    const before = await storedCounts(testApp);
    const result = await testApp.gql(ERASE, { userId: "   ", mode: "DELETE" });
    expect(result.data?.eraseUser).toMatchObject({ __typename: "ValidationError" });
    expect(await storedCounts(testApp)).toEqual(before);
  });
});
