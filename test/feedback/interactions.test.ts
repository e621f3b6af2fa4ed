import { describe, expect, it } from "vitest";
import { interactionInput, RECORD, recordInteraction, useTestApp } from "../support/app.js";

const testApp = useTestApp();

const READ_ONE = /* GraphQL */ `
  query One($id: ID!) {
    interaction(id: $id) {
      id query response messages { role content name }
      model { id version } settings sessionId userId
      trace { provider runId projectId traceId startTime }
      latencyMs tokens { prompt completion total } metadata createdAt recordedAt idempotencyKey
      redactions { email phone card ip }
      feedbackSummary { count positive negative hasCorrection flagged safetyFlagged }
    }
  }
`;

describe("recordInteraction", () => {
  it("stores the full context of one model answer under a stable id", async () => {
    const input = interactionInput({
      settings: { temperature: 0.2, maxTokens: 512 },
      trace: {
        provider: "langsmith",
        runId: "run-1",
        projectId: "proj-1",
        traceId: "trace-1",
        startTime: "2026-11-20T10:00:00.000Z",
      },
      latencyMs: 812.5,
      tokens: { prompt: 120, completion: 48, total: 168 },
      metadata: { channel: "web", locale: "en-GB" },
      createdAt: "2026-11-20T10:00:01.000Z",
    });
    const recorded = await testApp.gql(RECORD, { input });
    const payload = recorded.data?.recordInteraction;
    expect(payload.__typename).toBe("RecordInteractionPayload");
    expect(payload.duplicate).toBe(false);

    const read = await testApp.gql(READ_ONE, { id: payload.interaction.id });
    expect(read.data?.interaction).toMatchObject({
      id: payload.interaction.id,
      query: input.query,
      response: input.response,
      model: { id: "support-bot", version: "v1" },
      settings: { temperature: 0.2, maxTokens: 512 },
      sessionId: "session-1",
      trace: {
        provider: "langsmith",
        runId: "run-1",
        projectId: "proj-1",
        traceId: "trace-1",
        startTime: "2026-11-20T10:00:00.000Z",
      },
      latencyMs: 812.5,
      tokens: { prompt: 120, completion: 48, total: 168 },
      metadata: { channel: "web", locale: "en-GB" },
      createdAt: "2026-11-20T10:00:01.000Z",
      redactions: null,
      feedbackSummary: {
        count: 0,
        positive: 0,
        negative: 0,
        hasCorrection: false,
        flagged: false,
        safetyFlagged: false,
      },
    });
    // The raw product user id is replaced by a keyed pseudonym.
    expect(read.data?.interaction.userId).toMatch(/^u_[0-9a-f]{32}$/);
    // The database id works as well as the global id.
    const doc = await testApp.store.collections.interactions.findOne({
      sessionId: "session-1",
      "trace.runId": "run-1",
    });
    const byRawId = await testApp.gql(READ_ONE, { id: doc?._id.toHexString() });
    expect(byRawId.data?.interaction.id).toBe(payload.interaction.id);
  });

  it("accepts a chat and takes the last user message as the query", async () => {
    const { id } = await recordInteraction(testApp, {
      query: undefined,
      messages: [
        { role: "system", content: "You are helpful." },
        { role: "user", content: "First question" },
        { role: "assistant", content: "First answer" },
        { role: "user", content: "Second question" },
      ],
    });
    const read = await testApp.gql(READ_ONE, { id });
    expect(read.data?.interaction.query).toBe("Second question");
    expect(read.data?.interaction.messages).toHaveLength(4);
  });

  it("rejects invalid input with every offending field named and stores nothing", async () => {
    const before = await testApp.store.collections.interactions.countDocuments();
    const result = await testApp.gql(RECORD, {
      input: {
        response: "x",
        model: { id: "", version: "v1" },
        latencyMs: -5,
        metadata: { $where: "1" },
        idempotencyKey: "short",
      },
    });
    const payload = result.data?.recordInteraction;
    expect(payload.__typename).toBe("ValidationError");
    expect(payload.code).toBe("VALIDATION_FAILED");
    const paths = payload.fields.map((field: { path: string }) => field.path).sort();
    expect(paths).toEqual(
      [
        "input.idempotencyKey",
        "input.latencyMs",
        "input.metadata",
        "input.model.id",
        "input.query",
      ].sort(),
    );
    expect(await testApp.store.collections.interactions.countDocuments()).toBe(before);
  });

  it("refuses a text over its field's limit, naming the field, and agrees with the schema", async () => {
    const before = await testApp.store.collections.interactions.countDocuments();
    const result = await testApp.gql(RECORD, {
      input: interactionInput({ response: "x".repeat(100_001) }),
    });
    const payload = result.data?.recordInteraction;
    expect(payload.__typename).toBe("ValidationError");
    expect(payload.fields.map((field: { path: string }) => field.path)).toEqual(["input.response"]);
    expect(await testApp.store.collections.interactions.countDocuments()).toBe(before);
    const described = await testApp.gql(
      `{ __type(name: "RecordInteractionInput") { inputFields { name description } } }`,
    );
    const response = described.data?.__type.inputFields.find(
      (field: { name: string }) => field.name === "response",
    );
    expect(response.description).toContain("at most 100,000 characters");
    // At the limit it is stored.
    const atLimit = await testApp.gql(RECORD, {
      input: interactionInput({ response: "x".repeat(100_000) }),
    });
    expect(atLimit.data?.recordInteraction.__typename).toBe("RecordInteractionPayload");
  });

  it("returns the stored interaction for a repeated idempotency key and refuses a different payload", async () => {
    const input = interactionInput({ idempotencyKey: "3f6c1d7e-0001", query: "Idempotent?" });
    const first = (await testApp.gql(RECORD, { input })).data?.recordInteraction;
    const second = (await testApp.gql(RECORD, { input })).data?.recordInteraction;
    expect(second.duplicate).toBe(true);
    expect(second.interaction.id).toBe(first.interaction.id);
    expect(
      await testApp.store.collections.interactions.countDocuments({
        idempotencyKey: "3f6c1d7e-0001",
      }),
    ).toBe(1);

    const conflicting = (
      await testApp.gql(RECORD, { input: { ...input, response: "Another answer" } })
    ).data?.recordInteraction;
    expect(conflicting.__typename).toBe("ConflictError");
    expect(conflicting.message).toContain("3f6c1d7e-0001");
  });

  it("records a batch item by item, keeping order, storing the valid ones", async () => {
    const BATCH = /* GraphQL */ `
      mutation Batch($inputs: [RecordInteractionInput!]!) {
        recordInteractions(inputs: $inputs, withFeedbackTokens: true) {
          ... on RecordInteractionsPayload {
            recorded duplicates failed
            results {
              __typename
              ... on RecordInteractionPayload { duplicate interaction { query } feedbackToken { token } }
              ... on ValidationError { fields { path } }
              ... on ConflictError { message }
            }
          }
        }
      }
    `;
    const existing = interactionInput({ idempotencyKey: "batch-key-0001", query: "Already here" });
    await testApp.gql(RECORD, { input: existing });
    const before = await testApp.store.collections.interactions.countDocuments();
    const result = await testApp.gql(BATCH, {
      inputs: [
        interactionInput({ query: "Batch one" }),
        { response: "no model", model: { id: "m", version: "" }, query: "bad" },
        existing,
        interactionInput({ query: "Batch four", idempotencyKey: "batch-key-0004" }),
        { ...existing, response: "changed" },
      ],
    });
    const batch = result.data?.recordInteractions;
    expect(batch).toMatchObject({ recorded: 2, duplicates: 1, failed: 2 });
    const items = batch.results;
    expect(items.map((item: { __typename: string }) => item.__typename)).toEqual([
      "RecordInteractionPayload",
      "ValidationError",
      "RecordInteractionPayload",
      "RecordInteractionPayload",
      "ConflictError",
    ]);
    expect(items[0].interaction.query).toBe("Batch one");
    expect(items[0].feedbackToken.token).toMatch(/^lgt_/);
    // The error names the batch item it belongs to.
    expect(items[1].fields[0].path).toBe("inputs.1.model.version");
    expect(items[2].duplicate).toBe(true);
    expect(items[3].duplicate).toBe(false);
    expect(await testApp.store.collections.interactions.countDocuments()).toBe(before + 2);
  });

  it("refuses batches over the limit", async () => {
    const BATCH = /* GraphQL */ `
      mutation Batch($inputs: [RecordInteractionInput!]!) {
        recordInteractions(inputs: $inputs) { __typename ... on ValidationError { fields { path message } } }
      }
    `;
    const inputs = Array.from({ length: 501 }, (_, index) =>
      interactionInput({ query: `q${index}` }),
    );
    const result = await testApp.gql(BATCH, { inputs });
    expect(result.data?.recordInteractions).toEqual({
      __typename: "ValidationError",
      fields: [{ path: "inputs", message: "at most 500 interactions per batch" }],
    });
    expect(await testApp.store.collections.interactions.countDocuments({ query: "q0" })).toBe(0);
  });
});

describe("identifiers that carry personal data", () => {
  it("stores a session id built from an email as a stable pseudonym, other session ids as sent", async () => {
    const first = await recordInteraction(testApp, { sessionId: "alice@example.com#2026-11-26" });
    const second = await recordInteraction(testApp, { sessionId: "alice@example.com#2026-11-26" });
    const other = await recordInteraction(testApp, { sessionId: "bob@example.com#2026-11-26" });
    const plain = await recordInteraction(testApp, { sessionId: "sess-8f2c" });
    const sessions = await testApp.gql(
      `query($a: ID!, $b: ID!, $c: ID!, $d: ID!) {
        a: interaction(id: $a) { sessionId } b: interaction(id: $b) { sessionId }
        c: interaction(id: $c) { sessionId } d: interaction(id: $d) { sessionId }
      }`,
      { a: first.id, b: second.id, c: other.id, d: plain.id },
    );
    const { a, b, c, d } = sessions.data ?? {};
    expect(a.sessionId).toMatch(/^p_[0-9a-f]{32}$/);
    expect(b.sessionId).toBe(a.sessionId);
    expect(c.sessionId).not.toBe(a.sessionId);
    expect(d.sessionId).toBe("sess-8f2c");
    const stored = JSON.stringify(await testApp.store.collections.interactions.find().toArray());
    expect(stored).not.toContain("alice@example.com");
  });
});
