import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ArgillaClient, createArgillaClient } from "../../src/integrations/argilla/client.js";
import { ArgillaApiError } from "../../src/integrations/argilla/errors.js";
import {
  type ArgillaWebhookDelivery,
  ArgillaWebhookError,
  verifyArgillaWebhook,
} from "../../src/integrations/argilla/webhooks.js";
import { type FakeArgilla, startFakeArgilla } from "../fakes/argilla.js";
import { type FakeServer, startFakeServer } from "../fakes/server.js";

let argilla: FakeArgilla;
let client: ArgillaClient;
const sleeps: number[] = [];

beforeAll(async () => {
  argilla = await startFakeArgilla();
  client = createArgillaClient({
    baseUrl: argilla.url,
    apiKey: "argilla.apikey",
    sleep: async (ms) => void sleeps.push(ms),
  });
});
afterAll(() => argilla.close());

async function reviewDataset(name: string, minSubmitted = 1) {
  const workspace =
    (await client.listWorkspaces()).find((w) => w.name === "loopgate") ??
    (await client.createWorkspace("loopgate"));
  const dataset = await client.createDataset({
    name,
    workspace_id: workspace.id,
    min_submitted: minSubmitted,
    guidelines: "Rate the answer.",
  });
  await client.createField(dataset.id, {
    name: "prompt",
    title: "Prompt",
    settings: { type: "text" },
  });
  await client.createField(dataset.id, {
    name: "response",
    title: "Response",
    settings: { type: "text", use_markdown: true },
  });
  await client.createQuestion(dataset.id, {
    name: "rating",
    title: "Quality",
    settings: { type: "rating", options: [1, 2, 3, 4, 5].map((value) => ({ value })) },
  });
  await client.createQuestion(dataset.id, {
    name: "verdict",
    title: "Verdict",
    required: false,
    settings: {
      type: "label_selection",
      options: [
        { value: "good", text: "Good" },
        { value: "bad", text: "Bad" },
      ],
    },
  });
  await client.createQuestion(dataset.id, {
    name: "correction",
    title: "Corrected answer",
    required: false,
    settings: { type: "text" },
  });
  await client.createQuestion(dataset.id, {
    name: "ranking",
    title: "Rank the answers",
    required: false,
    settings: {
      type: "ranking",
      options: [
        { value: "a", text: "Answer A" },
        { value: "b", text: "Answer B" },
      ],
    },
  });
  const published = await client.publishDataset(dataset.id);
  expect(published.status).toBe("ready");
  return published;
}

const items = (count: number, prefix = "item") =>
  Array.from({ length: count }, (_, i) => ({
    external_id: `${prefix}-${i}`,
    fields: { prompt: `question ${i}`, response: `answer ${i}` },
    metadata: { model: "support-bot" },
  }));

describe("Argilla client against the fake", () => {
  it("authenticates with X-Argilla-Api-Key and reads the current user", async () => {
    const me = await client.me();
    expect(me).toMatchObject({ username: "argilla", role: "owner" });
    expect(argilla.server.requests.at(-1)!.headers["x-argilla-api-key"]).toBe("argilla.apikey");
  });

  it("creates a review dataset with overlap, fields and questions, and finds it again", async () => {
    const dataset = await reviewDataset("review-setup", 2);
    expect(dataset.distribution).toEqual({ strategy: "overlap", min_submitted: 2 });
    expect(await client.findDataset(dataset.workspace_id, "review-setup")).toMatchObject({
      id: dataset.id,
    });
    expect(await client.findDataset(dataset.workspace_id, "absent")).toBeUndefined();
    const ids = await client.questionIds(dataset.id);
    expect([...ids.keys()]).toEqual(["rating", "verdict", "correction", "ranking"]);
  });

  it("upserts in requests of at most 500 records, keyed by external_id (replays duplicate nothing)", async () => {
    const dataset = await reviewDataset("bulk");
    const before = argilla.server.requests.length;
    const stored = await client.upsertRecords(dataset.id, items(1201));
    expect(stored).toHaveLength(1201);
    const bulkCalls = argilla.server.requests
      .slice(before)
      .filter((r) => r.path.endsWith("/records/bulk"));
    expect(bulkCalls.map((r) => r.method)).toEqual(["PUT", "PUT", "PUT"]);
    // Replaying the whole push (e.g. a sync resumed after a crash) changes fields, adds nothing.
    await client.upsertRecords(
      dataset.id,
      items(1201).map((item) => ({ ...item, metadata: { model: "v2" } })),
    );
    const inDataset = [...argilla.state.records.values()].filter(
      (r) => r.dataset_id === dataset.id,
    );
    expect(inDataset).toHaveLength(1201);
    expect(new Set(inDataset.map((r) => r.external_id)).size).toBe(1201);
    expect(inDataset.every((r) => r.metadata?.model === "v2")).toBe(true);
  });

  it("pages through every record to the end", async () => {
    const dataset = await reviewDataset("paging");
    await client.upsertRecords(dataset.id, items(1050));
    const seen: string[] = [];
    for await (const record of client.iterateRecords(dataset.id, { pageSize: 500 }))
      seen.push(record.external_id!);
    expect(seen).toHaveLength(1050);
    expect(new Set(seen).size).toBe(1050);
    const first = await client.listRecords(dataset.id, { limit: 10 });
    expect(first.total).toBe(1050);
    // Relationships appear only when asked for.
    expect(first.items[0]).not.toHaveProperty("responses");
    const withResponses = await client.listRecords(dataset.id, {
      limit: 1,
      include: ["responses", "suggestions"],
    });
    expect(withResponses.items[0]).toHaveProperty("responses");
  });

  it("stores the judge's suggestions keyed by question_id and returns completed records with annotators", async () => {
    const dataset = await reviewDataset("suggest", 2);
    const questions = await client.questionIds(dataset.id);
    const [record] = await client.upsertRecords(dataset.id, [
      {
        external_id: "fb-1",
        fields: { prompt: "p", response: "r" },
        suggestions: [
          {
            question_id: questions.get("rating")!,
            value: 2,
            score: 0.9,
            agent: "llm-judge/gpt-4o",
            type: "model",
          },
          { question_id: questions.get("verdict")!, value: "bad", agent: "llm-judge" },
        ],
      },
    ]);
    expect(record!.suggestions!.map((s) => s.value).sort()).toEqual([2, "bad"]);
    const alice = argilla.addAnnotator("alice");
    const bob = argilla.addAnnotator("bob");
    await argilla.submitResponse(record!.id, alice.id, { rating: { value: 2 } });
    let completed = await client.searchRecords(dataset.id, {
      filters: {
        and: [
          { type: "terms", scope: { entity: "record", property: "status" }, values: ["completed"] },
        ],
      },
    });
    expect(completed.total).toBe(0);
    await argilla.submitResponse(record!.id, bob.id, {
      rating: { value: 3 },
      verdict: { value: "bad" },
    });
    completed = await client.searchRecords(
      dataset.id,
      {
        filters: {
          and: [
            {
              type: "terms",
              scope: { entity: "record", property: "status" },
              values: ["completed"],
            },
          ],
        },
        sort: [{ scope: { entity: "record", property: "updated_at" }, order: "asc" }],
      },
      { include: ["responses"] },
    );
    expect(completed.total).toBe(1);
    expect(completed.items[0]!.responses!.map((r) => r.user_id).sort()).toEqual(
      [alice.id, bob.id].sort(),
    );
    const fetched = await client.getRecord(record!.id);
    expect(fetched.status).toBe("completed");
  });

  it("respects 429 Retry-After and 503s on idempotent calls", async () => {
    const dataset = await reviewDataset("throttled");
    sleeps.length = 0;
    argilla.server.inject({
      fault: { kind: "status", status: 429, retryAfter: "3" },
      times: 1,
      path: "/records/bulk",
    });
    argilla.server.inject({ fault: { kind: "status", status: 503 }, times: 1, path: "/records" });
    await client.upsertRecords(dataset.id, items(3));
    const { items: listed } = await client.listRecords(dataset.id);
    expect(listed).toHaveLength(3);
    expect(sleeps[0]).toBe(3000);
    expect(sleeps).toHaveLength(2);
  });
});

describe("timeouts against the Argilla fake", () => {
  it("a timed-out upsert is repeated (PUT by external_id) and stores each record once", async () => {
    const patient = createArgillaClient({
      baseUrl: argilla.url,
      apiKey: "argilla.apikey",
      timeoutMs: 150,
      sleep: async () => {},
    });
    const dataset = await reviewDataset("timeouts");
    argilla.server.inject({ fault: { kind: "delay", ms: 400 }, times: 1, path: "/records/bulk" });
    await patient.upsertRecords(dataset.id, items(20, "slow"));
    await new Promise((resolve) => setTimeout(resolve, 400));
    const stored = [...argilla.state.records.values()].filter((r) => r.dataset_id === dataset.id);
    expect(stored).toHaveLength(20);
    expect(
      argilla.server.requests.filter((r) => r.path.endsWith(`${dataset.id}/records/bulk`)),
    ).toHaveLength(2);
  });
});

describe("the Argilla fake refuses what Argilla refuses", () => {
  const raw = (method: string, path: string, body?: unknown, key = "argilla.apikey") =>
    fetch(`${argilla.url}${path}`, {
      method,
      headers: { "X-Argilla-Api-Key": key, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it("bad or missing credentials: 401 UnauthorizedError", async () => {
    const bad = createArgillaClient({ baseUrl: argilla.url, apiKey: "wrong" });
    const error = (await bad.me().catch((e: unknown) => e)) as ArgillaApiError;
    expect(error).toBeInstanceOf(ArgillaApiError);
    expect(error.status).toBe(401);
    expect(error.code).toBe("argilla.api.errors::UnauthorizedError");
    expect(error.detail).toBe("Could not validate credentials");
  });

  it("unknown fields, missing required ones, suggestions by name, more than 500 records", async () => {
    const dataset = await reviewDataset("strict");
    const unknown = await raw("PUT", `/api/v1/datasets/${dataset.id}/records/bulk`, {
      items: [{ external_id: "x", fields: { prompt: "p", response: "r" }, extra: 1 }],
    });
    expect(unknown.status).toBe(422);
    expect((await unknown.json()).detail.code).toBe("argilla.api.errors::ValidationError");
    const missing = await client
      .upsertRecords(dataset.id, [{ external_id: "y", fields: { prompt: "p" } }])
      .catch((e: unknown) => e);
    expect(missing).toMatchObject({ status: 422 });
    const byName = await client
      .upsertRecords(dataset.id, [
        {
          external_id: "z",
          fields: { prompt: "p", response: "r" },
          suggestions: [{ question_id: "rating", value: 3 }],
        },
      ])
      .catch((e: unknown) => e);
    expect(byName).toMatchObject({ status: 422 });
    const tooMany = await raw("PUT", `/api/v1/datasets/${dataset.id}/records/bulk`, {
      items: items(501),
    });
    expect(tooMany.status).toBe(422);
    const badLabel = await client
      .upsertRecords(dataset.id, [
        {
          external_id: "w",
          fields: { prompt: "p", response: "r" },
          responses: [
            {
              user_id: argilla.owner.id,
              status: "submitted",
              values: { verdict: { value: "meh" } },
            },
          ],
        },
      ])
      .catch((e: unknown) => e);
    expect((badLabel as ArgillaApiError).detail).toContain("'meh' is not a valid label");
    // Nothing of the refused requests was stored.
    expect(
      [...argilla.state.records.values()].filter((r) => r.dataset_id === dataset.id),
    ).toHaveLength(0);
  });

  it("wrong method, unknown path, duplicate names, publishing without questions, records on a draft", async () => {
    expect((await raw("GET", "/api/v1/datasets/x/publish")).status).toBe(405);
    expect((await raw("GET", "/api/v1/nothing")).status).toBe(404);
    const [workspace] = await client.listWorkspaces();
    const draft = await client.createDataset({ name: "draft", workspace_id: workspace!.id });
    expect(
      await client
        .createDataset({ name: "draft", workspace_id: workspace!.id })
        .catch((e: unknown) => e),
    ).toMatchObject({ status: 409 });
    await client.createField(draft.id, {
      name: "prompt",
      title: "Prompt",
      settings: { type: "text" },
    });
    const unpublished = (await client
      .publishDataset(draft.id)
      .catch((e: unknown) => e)) as ArgillaApiError;
    expect(unpublished.detail).toBe("Dataset cannot be published without required questions");
    expect(
      await client
        .upsertRecords(draft.id, [{ external_id: "a", fields: { prompt: "p" } }])
        .catch((e: unknown) => e),
    ).toMatchObject({
      status: 422,
    });
  });
});

describe("Argilla webhooks", () => {
  let receiver: FakeServer;
  let status = 200;
  const received: { id: string; delivery: ArgillaWebhookDelivery | ArgillaWebhookError }[] = [];
  let secret = "";

  beforeAll(async () => {
    receiver = await startFakeServer({
      errorBody: () => ({}),
      handle: (request) => {
        const headers = request.headers as Record<string, string>;
        let delivery: ArgillaWebhookDelivery | ArgillaWebhookError;
        try {
          delivery = verifyArgillaWebhook(secret, request.raw, headers);
        } catch (error) {
          delivery = error as ArgillaWebhookError;
        }
        received.push({ id: headers["webhook-id"]!, delivery });
        return { status };
      },
    });
  });
  afterAll(() => receiver.close());

  it("delivers signed response.created and record.completed events that verify", async () => {
    const dataset = await reviewDataset("hooks");
    const hook = await client.createWebhook({
      url: `${receiver.url}/hooks/argilla`,
      events: ["response.created", "record.completed"],
    });
    secret = hook.secret;
    expect((await client.listWebhooks()).map((h) => h.id)).toContain(hook.id);
    const [record] = await client.upsertRecords(dataset.id, items(1, "hook"));
    const annotator = argilla.addAnnotator("carol");
    await argilla.submitResponse(record!.id, annotator.id, { rating: { value: 5 } });
    await argilla.settled();
    const types = received.map((r) => (r.delivery as ArgillaWebhookDelivery).type);
    expect(types).toEqual(["response.created", "record.completed"]);
    const created = received[0]!.delivery as ArgillaWebhookDelivery;
    expect((created.data.user as { id: string }).id).toBe(annotator.id);
    expect((created.data.record as { external_id: string }).external_id).toBe("hook-0");
  });

  it("retries a failed delivery with the same webhook-id, and injects drops and duplicates", async () => {
    const dataset = await reviewDataset("hook-faults");
    const [record] = await client.upsertRecords(dataset.id, items(3, "fault"));
    const annotator = argilla.addAnnotator("dave");
    received.length = 0;
    status = 500;
    const retry = argilla.submitResponse(record!.id, annotator.id, { rating: { value: 4 } });
    await retry;
    await new Promise((resolve) => setTimeout(resolve, 30));
    status = 200;
    await argilla.settled();
    const ids = received
      .filter((r) => !(r.delivery instanceof Error) && r.delivery.type === "response.created")
      .map((r) => r.id);
    expect(ids.length).toBeGreaterThanOrEqual(2);
    expect(new Set(ids).size).toBe(1);

    const records = [...argilla.state.records.values()].filter((r) => r.dataset_id === dataset.id);
    received.length = 0;
    argilla.dropDeliveries(1);
    await argilla.submitResponse(records[1]!.id, annotator.id, { rating: { value: 1 } });
    await argilla.settled();
    expect(received.map((r) => (r.delivery as ArgillaWebhookDelivery).type)).toEqual([
      "record.completed",
    ]);
    received.length = 0;
    argilla.duplicateDeliveries(1);
    await argilla.submitResponse(records[2]!.id, annotator.id, { rating: { value: 1 } });
    await argilla.settled();
    const created = received.filter(
      (r) => (r.delivery as ArgillaWebhookDelivery).type === "response.created",
    );
    expect(created).toHaveLength(2);
    expect(created[0]!.id).toBe(created[1]!.id);
  });
});

describe("Standard Webhooks verification", () => {
  const secret = Buffer.from("a-test-secret-of-enough-length!!").toString("base64");
  const body = JSON.stringify({
    type: "response.created",
    version: 1,
    timestamp: "2026-11-27T12:00:00.000000Z",
    data: { id: "r1" },
  });
  const signed = (at: Date, payload = body, id = "msg_1") => ({
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, payload),
  });

  it("accepts a valid delivery", () => {
    const delivery = verifyArgillaWebhook(secret, body, signed(new Date()));
    expect(delivery).toMatchObject({
      messageId: "msg_1",
      type: "response.created",
      data: { id: "r1" },
    });
  });

  it("refuses a tampered body, another secret or a forged id", () => {
    const headers = signed(new Date());
    expect(() => verifyArgillaWebhook(secret, body.replace("r1", "r2"), headers)).toThrow(
      ArgillaWebhookError,
    );
    const other = Buffer.from("another-secret-of-enough-length!").toString("base64");
    expect(() => verifyArgillaWebhook(other, body, headers)).toThrow(ArgillaWebhookError);
    expect(() => verifyArgillaWebhook(secret, body, { ...headers, "webhook-id": "msg_2" })).toThrow(
      ArgillaWebhookError,
    );
  });

  it("refuses a replay with an old timestamp, a re-dated replay, and missing headers", () => {
    const old = new Date(Date.now() - 10 * 60_000);
    expect(() => verifyArgillaWebhook(secret, body, signed(old))).toThrow(/too old/i);
    const headers = signed(old);
    const redated = { ...headers, "webhook-timestamp": String(Math.floor(Date.now() / 1000)) };
    expect(() => verifyArgillaWebhook(secret, body, redated)).toThrow(ArgillaWebhookError);
    expect(() =>
      verifyArgillaWebhook(secret, body, new Headers({ "webhook-id": "msg_1" })),
    ).toThrow(/Missing/);
    expect(() =>
      verifyArgillaWebhook(secret, body, new Headers(signed(new Date(Date.now() + 10 * 60_000)))),
    ).toThrow(/too new/i);
  });
});
