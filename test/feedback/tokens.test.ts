import { createHmac, randomBytes } from "node:crypto";
import { decodeGlobalID } from "@pothos/plugin-relay";
import { ObjectId } from "mongodb";
import { beforeAll, describe, expect, it } from "vitest";
import { createFeedbackTokens } from "../../src/auth/feedback-tokens.js";
import { createManualClock } from "../../src/clock.js";
import {
  type FeedbackKindName,
  type GraphQLResponse,
  RECORD,
  recordInteraction,
  SUBMIT_MUTATIONS,
  storedCounts,
  useTestApp,
} from "../support/app.js";

const TTL_SECONDS = 900;
const clock = createManualClock(new Date("2026-03-02T09:00:00.000Z"));
const testApp = useTestApp({ clock, env: { FEEDBACK_TOKEN_TTL_SECONDS: String(TTL_SECONDS) } });

const hex = (globalId: string) => decodeGlobalID(globalId).id;

/** Raw HTTP, for the status code. */
async function post(
  query: string,
  variables: Record<string, unknown>,
  credential: string,
): Promise<{ status: number; body: GraphQLResponse }> {
  const response = await testApp.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${credential}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GraphQLResponse };
}

type Kind = FeedbackKindName;
const kinds = SUBMIT_MUTATIONS;

const submitDocument = (kind: Kind) => /* GraphQL */ `
  mutation Submit($input: ${kinds[kind][1]}!) {
    ${kinds[kind][0]}(input: $input) {
      __typename
      ... on SubmitFeedbackPayload { feedback { id kind source annotatorId } }
      ... on Error { code message }
    }
  }
`;

/** Submits feedback; returns the payload (or typed error) and the whole response. */
async function submit(kind: Kind, input: Record<string, unknown>, credential: string) {
  const result = await testApp.gql(submitDocument(kind), { input }, credential);
  return { payload: result.data?.[kinds[kind][0]], result };
}

async function storedInteraction(globalId: string) {
  return testApp.store.collections.interactions.findOne({ _id: new ObjectId(hex(globalId)) });
}

async function storedFeedback(globalId: string) {
  return testApp.store.collections.feedback.findOne({ _id: new ObjectId(hex(globalId)) });
}

const binaryFor = (interactionId: string) => ({ interactionId, positive: true });

describe("feedback tokens", () => {
  let ingestKey = "";
  beforeAll(async () => {
    ingestKey = await testApp.key(["ingest"]);
  });

  it("recordInteraction(withFeedbackToken: true) returns a token that submits feedback without an API key", async () => {
    const recorded = await testApp.gql(
      RECORD,
      { input: { ...interaction(), userId: "shopper-17" }, token: true },
      ingestKey,
    );
    const payload = recorded.data?.recordInteraction;
    expect(payload.__typename).toBe("RecordInteractionPayload");
    const { token, expiresAt } = payload.feedbackToken;
    expect(token).toMatch(/^lgt_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(expiresAt).toBe(new Date(clock.now().getTime() + TTL_SECONDS * 1000).toISOString());

    const before = await storedCounts(testApp);
    const { payload: submitted } = await submit("binary", binaryFor(payload.interaction.id), token);
    expect(submitted).toMatchObject({
      __typename: "SubmitFeedbackPayload",
      feedback: { kind: "BINARY", source: "USER", annotatorId: null },
    });
    expect(await storedCounts(testApp)).toEqual({ ...before, feedback: before.feedback + 1 });

    const interactionDoc = await storedInteraction(payload.interaction.id);
    const stored = await storedFeedback(submitted.feedback.id);
    expect(interactionDoc?.userId).toMatch(/^u_[0-9a-f]{32}$/);
    expect(stored).toMatchObject({
      source: "user",
      userId: interactionDoc?.userId,
      raterKey: `user:${interactionDoc?.userId}`,
      submittedBy: "feedbackToken",
      interactionId: interactionDoc?._id,
    });
    expect(stored?.annotatorId).toBeUndefined();
  });

  it("recordInteraction without withFeedbackToken returns no token", async () => {
    const recorded = await testApp.gql(RECORD, { input: interaction(), token: false }, ingestKey);
    expect(recorded.data?.recordInteraction.feedbackToken).toBeNull();
  });

  it("createFeedbackToken issues a working token for an existing interaction, with the requested lifetime", async () => {
    const { id } = await recordInteraction(testApp, { userId: "shopper-18" }, ingestKey);
    const created = await testApp.gql(
      `mutation ($id: ID!) {
        createFeedbackToken(interactionId: $id, ttlSeconds: 120) {
          __typename
          ... on FeedbackToken { token expiresAt }
        }
      }`,
      { id },
      ingestKey,
    );
    const token = created.data?.createFeedbackToken;
    expect(token).toMatchObject({
      __typename: "FeedbackToken",
      expiresAt: new Date(clock.now().getTime() + 120_000).toISOString(),
    });
    const { payload } = await submit("rating", { interactionId: id, score: 5 }, token.token);
    expect(payload).toMatchObject({
      __typename: "SubmitFeedbackPayload",
      feedback: { source: "USER" },
    });
    const stored = await storedFeedback(payload.feedback.id);
    expect(stored?.userId).toBe((await storedInteraction(id))?.userId);
  });

  it("does not let an ingest-only key read an interaction through the token it issues", async () => {
    const { id } = await recordInteraction(testApp, { userId: "shopper-19" }, ingestKey);
    const created = await testApp.gql(
      `mutation ($id: ID!) { createFeedbackToken(interactionId: $id) { ... on FeedbackToken { interaction { response } } } }`,
      { id },
      ingestKey,
    );
    expect(created.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect(JSON.stringify(created)).not.toContain("Reset password");
  });

  it("createFeedbackToken refuses an unknown interaction and a lifetime outside 60 s – 7 days", async () => {
    const { id } = await recordInteraction(testApp, {}, ingestKey);
    const create = (variables: Record<string, unknown>) =>
      testApp.gql(
        `mutation ($id: ID!, $ttl: Int) {
          createFeedbackToken(interactionId: $id, ttlSeconds: $ttl) { __typename }
        }`,
        variables,
        ingestKey,
      );
    for (const ttl of [59, 604_801, -1]) {
      expect((await create({ id, ttl })).data?.createFeedbackToken.__typename).toBe(
        "ValidationError",
      );
    }
    expect(
      (await create({ id: new ObjectId().toHexString() })).data?.createFeedbackToken.__typename,
    ).toBe("NotFoundError");
  });

  it.each([
    ["binary", { positive: false }],
    ["rating", { score: 2 }],
    ["correction", { correctedResponse: "The right answer." }],
    ["comment", { text: "Too long." }],
    ["implicit", { signal: "COPY" }],
    ["flag", { category: "ACCURACY", reason: "Outdated." }],
  ] as const)("a token submits %s feedback on its interaction as USER", async (kind, fields) => {
    const { id, token } = await recordInteraction(testApp, { userId: `kinds-${kind}` }, ingestKey);
    const { payload } = await submit(kind, { interactionId: id, ...fields }, token ?? "");
    expect(payload).toMatchObject({ __typename: "SubmitFeedbackPayload" });
    const stored = await storedFeedback(payload.feedback.id);
    const interactionDoc = await storedInteraction(id);
    expect(stored).toMatchObject({
      kind,
      source: "user",
      userId: interactionDoc?.userId,
      submittedBy: "feedbackToken",
    });
  });

  it("a token cannot submit feedback on another interaction", async () => {
    const mine = await recordInteraction(testApp, { userId: "owner-1" }, ingestKey);
    const other = await recordInteraction(testApp, { userId: "owner-2" }, ingestKey);
    const before = await storedCounts(testApp);
    for (const kind of ["binary", "comment"] as const) {
      const input =
        kind === "binary" ? binaryFor(other.id) : { interactionId: other.id, text: "Hi" };
      const { payload } = await submit(kind, input, mine.token ?? "");
      expect(payload).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN" });
    }
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it.each([
    ["source EXPERT", { source: "EXPERT" }],
    ["source LLM_JUDGE with an annotator", { source: "LLM_JUDGE", annotatorId: "judge-model" }],
    ["an annotatorId with source USER", { annotatorId: "annotator-7" }],
  ])("a token cannot claim %s", async (_name, claim) => {
    const { id, token } = await recordInteraction(testApp, {}, ingestKey);
    const before = await storedCounts(testApp);
    const { payload } = await submit("binary", { ...binaryFor(id), ...claim }, token ?? "");
    expect(payload).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN" });
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it("a token cannot attribute feedback to another user", async () => {
    const { id, token } = await recordInteraction(testApp, { userId: "real-user" }, ingestKey);
    const { payload } = await submit(
      "binary",
      { ...binaryFor(id), userId: "somebody-else" },
      token ?? "",
    );
    expect(payload.__typename).toBe("SubmitFeedbackPayload");
    expect((await storedFeedback(payload.feedback.id))?.userId).toBe(
      (await storedInteraction(id))?.userId,
    );
  });

  it("a token cannot read: queries answer FORBIDDEN", async () => {
    const { id, token } = await recordInteraction(testApp, {}, ingestKey);
    const queries = {
      interaction: ["query ($id: ID!) { interaction(id: $id) { id } }", { id }],
      node: ["query ($id: ID!) { node(id: $id) { id } }", { id }],
      interactions: ["{ interactions(first: 1) { edges { node { id } } } }", {}],
      feedback: ["{ feedback(first: 1) { edges { node { id } } } }", {}],
      feedbackStats: ["{ feedbackStats { overall { feedbackCount } } }", {}],
      conflicts: ["{ conflicts(first: 1) { edges { node { id } } } }", {}],
      feedbackKeys: ["{ feedbackKeys { key } }", {}],
      apiKeys: ["{ apiKeys { id } }", {}],
    } as const;
    const codes: Record<string, unknown> = {};
    for (const [name, [document, variables]] of Object.entries(queries)) {
      const result = await testApp.gql(document, variables, token ?? "");
      codes[name] = result.errors?.[0]?.extensions?.code;
    }
    expect(codes).toEqual(Object.fromEntries(Object.keys(queries).map((n) => [n, "FORBIDDEN"])));
  });

  it("a token cannot record, mint tokens or administer", async () => {
    const { id, token } = await recordInteraction(testApp, {}, ingestKey);
    const before = await storedCounts(testApp);
    const mutations = {
      recordInteraction: [
        "mutation ($input: RecordInteractionInput!) { recordInteraction(input: $input) { __typename } }",
        { input: interaction() },
      ],
      createFeedbackToken: [
        "mutation ($id: ID!) { createFeedbackToken(interactionId: $id) { __typename } }",
        { id },
      ],
      createApiKey: ['mutation { createApiKey(name: "x", scopes: [ADMIN]) { __typename } }', {}],
      eraseUser: ['mutation { eraseUser(userId: "user-1") { __typename } }', {}],
    } as const;
    const typenames: Record<string, unknown> = {};
    for (const [name, [document, variables]] of Object.entries(mutations)) {
      const result = await testApp.gql(document, variables, token ?? "");
      typenames[name] = result.data?.[name]?.__typename;
    }
    expect(typenames).toEqual(
      Object.fromEntries(Object.keys(mutations).map((n) => [n, "ForbiddenError"])),
    );
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it("viewer reports the token and the interaction it is bound to", async () => {
    const { id, token } = await recordInteraction(testApp, {}, ingestKey);
    const result = await testApp.gql(
      "{ viewer { kind scopes keyName interactionId } }",
      {},
      token ?? "",
    );
    expect(result.data?.viewer).toEqual({
      kind: "feedbackToken",
      scopes: [],
      keyName: null,
      // Issue 6, item 5: every id the API returns is the same form, the Relay global id.
      interactionId: id,
    });
  });

  it("a token expires FEEDBACK_TOKEN_TTL_SECONDS after it was issued (401)", async () => {
    const { id, token } = await recordInteraction(testApp, {}, ingestKey);
    const credential = token ?? "";
    clock.advance((TTL_SECONDS - 1) * 1000);
    expect((await submit("binary", binaryFor(id), credential)).payload.__typename).toBe(
      "SubmitFeedbackPayload",
    );
    const before = await storedCounts(testApp);
    clock.advance(1000);
    const atExpiry = await post(submitDocument("binary"), { input: binaryFor(id) }, credential);
    expect(atExpiry.status).toBe(401);
    expect(atExpiry.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    clock.advance(3600 * 1000);
    expect(
      (await post(submitDocument("binary"), { input: binaryFor(id) }, credential)).status,
    ).toBe(401);
    expect(await storedCounts(testApp)).toEqual(before);
  });

  it("a token created with a short ttlSeconds expires then, not at the default lifetime", async () => {
    const { id } = await recordInteraction(testApp, {}, ingestKey);
    const created = await testApp.gql(
      `mutation ($id: ID!) {
        createFeedbackToken(interactionId: $id, ttlSeconds: 60) { ... on FeedbackToken { token } }
      }`,
      { id },
      ingestKey,
    );
    clock.advance(61_000);
    const result = await post(
      submitDocument("binary"),
      { input: binaryFor(id) },
      created.data?.createFeedbackToken.token,
    );
    expect(result.status).toBe(401);
  });

  describe("forged tokens are refused with 401 and change nothing", () => {
    let target = "";
    let victim = "";
    let token = "";
    beforeAll(async () => {
      const recorded = await recordInteraction(testApp, { userId: "token-owner" }, ingestKey);
      target = recorded.id;
      token = recorded.token ?? "";
      victim = (await recordInteraction(testApp, { userId: "someone" }, ingestKey)).id;
    });

    const parts = () => {
      const [payload = "", signature = ""] = token.slice("lgt_".length).split(".");
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
      return { payload, signature, claims };
    };
    const encode = (claims: unknown) => Buffer.from(JSON.stringify(claims)).toString("base64url");

    const expectRefused = async (credential: string, interactionId: string) => {
      const before = await storedCounts(testApp);
      const result = await post(
        submitDocument("binary"),
        { input: binaryFor(interactionId) },
        credential,
      );
      expect(result.status).toBe(401);
      expect(result.body.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      expect(await storedCounts(testApp)).toEqual(before);
    };

    it("the untouched token works (control)", async () => {
      const { payload } = await submit("binary", binaryFor(target), token);
      expect(payload.__typename).toBe("SubmitFeedbackPayload");
    });

    it("a payload re-bound to another interaction", async () => {
      const { signature, claims } = parts();
      const forged = `lgt_${encode({ ...claims, iid: hex(victim) })}.${signature}`;
      await expectRefused(forged, victim);
    });

    it("a payload with a later expiry", async () => {
      const { signature, claims } = parts();
      await expectRefused(
        `lgt_${encode({ ...claims, exp: claims.exp + 86_400 })}.${signature}`,
        target,
      );
    });

    it("a payload claiming another user", async () => {
      const { signature, claims } = parts();
      await expectRefused(`lgt_${encode({ ...claims, uid: "u_attacker" })}.${signature}`, target);
    });

    it("a forged signature", async () => {
      const { payload, signature } = parts();
      const random = randomBytes(Buffer.from(signature, "base64url").length).toString("base64url");
      await expectRefused(`lgt_${payload}.${random}`, target);
      // An HMAC under a guessed key is no better.
      const guessed = createHmac("sha256", "loopgate").update(payload).digest("base64url");
      await expectRefused(`lgt_${payload}.${guessed}`, target);
    });

    it("a truncated, missing or extra signature part", async () => {
      const { payload, signature } = parts();
      await expectRefused(`lgt_${payload}.${signature.slice(0, -4)}`, target);
      await expectRefused(`lgt_${payload}`, target);
      await expectRefused(`lgt_${payload}.`, target);
      await expectRefused(`lgt_${payload}.${signature}.${signature}`, target);
      await expectRefused("lgt_", target);
    });

    it("a signature spelled differently, even where it decodes to the same bytes", async () => {
      // base64url's last character of a 32-byte signature carries 4 unused bits: its neighbours
      // decode to the same signature, so only the canonical spelling may be accepted.
      const { payload, signature } = parts();
      const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
      const last = signature.at(-1)!;
      for (const other of alphabet.replace(last, "")) {
        await expectRefused(`lgt_${payload}.${signature.slice(0, -1)}${other}`, target);
      }
    });

    it("a token signed with another secret", async () => {
      const other = createFeedbackTokens({
        secret: "another-secret-another-secret-0123456789",
        clock,
        defaultTtlSeconds: TTL_SECONDS,
      });
      const interactionDoc = await storedInteraction(target);
      const { token: foreign } = other.issue({
        interactionId: new ObjectId(hex(target)),
        ...(interactionDoc?.userId ? { userId: interactionDoc.userId } : {}),
      });
      await expectRefused(foreign, target);
    });
  });

  describe("comparisons", () => {
    let a = { id: "", token: "" };
    let b = "";
    let c = "";
    beforeAll(async () => {
      const recorded = await recordInteraction(testApp, { userId: "compare-user" }, ingestKey);
      a = { id: recorded.id, token: recorded.token ?? "" };
      b = (await recordInteraction(testApp, { userId: "compare-b" }, ingestKey)).id;
      c = (await recordInteraction(testApp, { userId: "compare-c" }, ingestKey)).id;
    });

    it.each([
      [
        "side A against inline text",
        () => ({ a: { interactionId: a.id }, b: { text: "Alt" }, preferred: "TIE" }),
      ],
      [
        "side B against inline text",
        () => ({ a: { text: "Alt" }, b: { interactionId: a.id }, preferred: "B" }),
      ],
    ])("a token for %s may submit a comparison", async (_name, input) => {
      const { payload } = await submit("comparison", input(), a.token);
      expect(payload).toMatchObject({
        __typename: "SubmitFeedbackPayload",
        feedback: { kind: "COMPARISON", source: "USER" },
      });
      const stored = await storedFeedback(payload.feedback.id);
      expect(stored?.userId).toBe((await storedInteraction(a.id))?.userId);
      expect(stored?.interactionIds.map((id) => id.toHexString())).toContain(hex(a.id));
    });

    it.each([
      // The other side would be copied into the stored comparison: the token could read it.
      [
        "its interaction against another one",
        () => ({ a: { interactionId: a.id }, b: { interactionId: b }, preferred: "A" }),
      ],
      [
        "another one against its interaction",
        () => ({ a: { interactionId: b }, b: { interactionId: a.id }, preferred: "B" }),
      ],
      [
        "two other interactions",
        () => ({ a: { interactionId: b }, b: { interactionId: c }, preferred: "A" }),
      ],
      [
        "inline texts only",
        () => ({ prompt: "Q?", a: { text: "One" }, b: { text: "Two" }, preferred: "A" }),
      ],
      [
        "another interaction against inline text",
        () => ({ a: { interactionId: b }, b: { text: "Two" }, preferred: "A" }),
      ],
    ])("a token may not compare %s", async (_name, input) => {
      const before = await storedCounts(testApp);
      const { payload } = await submit("comparison", input(), a.token);
      expect(payload).toMatchObject({ __typename: "ForbiddenError", code: "FORBIDDEN" });
      expect(await storedCounts(testApp)).toEqual(before);
    });
  });
});

function interaction(): Record<string, unknown> {
  return {
    query: "Where is my parcel?",
    response: "It left the depot this morning.",
    model: { id: "support-bot", version: "v1" },
  };
}

describe("walking the graph from a write's payload", () => {
  it("does not reveal other raters' feedback to a token or an ingest-only key", async () => {
    const { id, token } = await recordInteraction(testApp, { userId: "walker" });
    await testApp.gql(
      `mutation($id: ID!) { submitComment(input: { interactionId: $id, text: "expert note", source: EXPERT, annotatorId: "e1" }) { __typename } }`,
      { id },
    );
    const WALK = /* GraphQL */ `
      mutation($id: ID!) {
        submitBinaryFeedback(input: { interactionId: $id, positive: true }) {
          ... on SubmitFeedbackPayload { feedback { interaction { feedback { comment } } } }
        }
      }
    `;
    for (const credential of [token, await testApp.key(["ingest"])]) {
      const result = await testApp.gql(WALK, { id }, credential);
      expect(result.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
      expect(JSON.stringify(result)).not.toContain("expert note");
    }
  });
});
