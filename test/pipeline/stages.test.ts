import { describe, expect, it } from "vitest";
import { createManualClock } from "../../src/clock.js";
import { loadConfig } from "../../src/config.js";
import { parseId } from "../../src/ids.js";
import type { FeedbackDoc } from "../../src/store/documents.js";
import { recordInteraction, type TestApp, useTestApp } from "../support/app.js";

/**
 * Each stage of the processing pipeline on crafted cases, through the real app and store: feedback
 * goes in through the GraphQL mutations, the pipeline's batch runs (as its job does), and the
 * results are read back through GraphQL. Time is a manual clock, so windows are exact.
 */
const clock = createManualClock(new Date("2026-03-02T09:00:00Z"));
const t = useTestApp({
  clock,
  env: {
    PIPELINE_USER_BURST_MAX: "5",
    PIPELINE_IP_BURST_MAX: "4",
    PIPELINE_TEXT_FLOOD_MAX: "3",
    PIPELINE_BURST_WINDOW_SECONDS: "60",
    PIPELINE_TRUST_FORWARDED_FOR: "true",
    PIPELINE_MIN_READ_MS: "1000",
    PIPELINE_READ_CHARS_PER_SECOND: "100",
    PIPELINE_REVIEW_QUALITY_BELOW: "0.35",
    PIPELINE_FINE_TUNING_MIN_FREQUENCY: "3",
  },
});

const SUBMIT = {
  binary: "submitBinaryFeedback(input: $input)",
  comment: "submitComment(input: $input)",
  flag: "submitFlag(input: $input)",
  rating: "submitRating(input: $input)",
  correction: "submitCorrection(input: $input)",
} as const;
const INPUT = {
  binary: "BinaryFeedbackInput",
  comment: "CommentFeedbackInput",
  flag: "FlagFeedbackInput",
  rating: "RatingFeedbackInput",
  correction: "CorrectionFeedbackInput",
} as const;

/** Submits feedback over HTTP with the given extra headers; returns the stored feedback's id. */
async function submit(
  kind: keyof typeof SUBMIT,
  input: Record<string, unknown>,
  options: { headers?: Record<string, string>; token?: string } = {},
): Promise<string> {
  const response = await t.app.fetch("http://localhost/graphql", {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${options.token ?? t.adminKey}`,
      ...options.headers,
    },
    body: JSON.stringify({
      query: `mutation($input: ${INPUT[kind]}!) { result: ${SUBMIT[kind]} {
        __typename ... on SubmitFeedbackPayload { feedback { id } } ... on Error { message } } }`,
      variables: { input },
    }),
  });
  const body = (await response.json()) as { data?: { result: any }; errors?: unknown };
  const id = body.data?.result?.feedback?.id;
  if (!id) throw new Error(`submit failed: ${JSON.stringify(body)}`);
  return id;
}

const PIPELINE = `query($id: ID!) { feedbackEntry(id: $id) { pipeline {
  version quality category categorizedBy priority groupKey route usable
  duplicateOf { id } filtered { reason detail } } } }`;

async function resultOf(id: string) {
  const response = await t.gql(PIPELINE, { id });
  expect(response.errors).toBeUndefined();
  return response.data?.feedbackEntry.pipeline;
}

const process = () => t.services.pipeline.processPending();

/** Interactions recorded long enough ago that reading them is plausible. */
async function answers(n: number, query = (i: number) => `question ${Math.random()} ${i}`) {
  const ids: Array<{ id: string; token?: string }> = [];
  for (let i = 0; i < n; i++) {
    ids.push(await recordInteraction(t, { query: query(i), userId: `owner-${Math.random()}` }));
  }
  clock.advance(30_000);
  return ids;
}

/** A fresh stretch of time: no window of an earlier case reaches into the next. */
const nextCase = () => clock.advance(3_600_000);

const dbFeedback = async (id: string) =>
  (await t.store.collections.feedback.findOne({
    _id: parseId(
      id,
      ["CommentFeedback", "BinaryFeedback", "FlagFeedback", "RatingFeedback", "CorrectionFeedback"],
      "id",
    ),
  })) as FeedbackDoc;

describe("processing pipeline stages", () => {
  it("marks new feedback for the pipeline in the insert and clears the marker once processed", async () => {
    nextCase();
    const [answer] = await answers(1);
    const id = await submit("binary", {
      interactionId: answer!.id,
      positive: true,
      userId: "marker-user",
    });
    expect((await dbFeedback(id)).pipelinePendingSince).toBeInstanceOf(Date);
    expect(await resultOf(id)).toBeNull();
    await process();
    const stored = await dbFeedback(id);
    expect(stored.pipelinePendingSince).toBeUndefined();
    expect(stored.pipeline).toMatchObject({ version: 1, category: null, route: null });
    expect(await resultOf(id)).toMatchObject({ usable: true, filtered: null, duplicateOf: null });
  });

  it("deduplicates: identical feedback of one rater on one answer counts once", async () => {
    nextCase();
    const [answer] = await answers(1);
    const input = { interactionId: answer!.id, text: "Nice and short.", userId: "dup-user" };
    const first = await submit("comment", input);
    clock.advance(5_000);
    const second = await submit("comment", input);
    clock.advance(5_000);
    const other = await submit("comment", { ...input, userId: "another-user" });
    await process();
    expect(await resultOf(first)).toMatchObject({ duplicateOf: null, usable: true });
    expect(await resultOf(second)).toMatchObject({ duplicateOf: { id: first }, usable: false });
    expect(await resultOf(other)).toMatchObject({ duplicateOf: null, usable: true });
  });

  it("filters a burst from one user, keeping the feedback and saying why", async () => {
    nextCase();
    const targets = await answers(8);
    const ids: string[] = [];
    for (const target of targets) {
      ids.push(
        await submit("rating", { interactionId: target.id, score: 1, userId: "burst-user" }),
      );
      clock.advance(2_000);
    }
    await process();
    const results = await Promise.all(ids.map(resultOf));
    expect(results.slice(0, 5).every((r) => r.filtered === null)).toBe(true);
    for (const result of results.slice(5)) {
      expect(result.filtered.reason).toBe("user_burst");
      expect(result.filtered.detail).toMatch(/within 60 s \(limit 5\)/);
      expect(result.quality).toBe(0);
    }
    // Kept, not dropped.
    expect(
      await t.store.collections.feedback.countDocuments({
        userId: { $exists: true },
        "pipeline.filtered.reason": "user_burst",
      }),
    ).toBe(3);
  });

  it("filters an identical-text flood across users and answers", async () => {
    nextCase();
    const targets = await answers(5);
    const ids: string[] = [];
    for (const [index, target] of targets.entries()) {
      ids.push(
        await submit("comment", {
          interactionId: target.id,
          text: "Visit my site for FREE credits!!! best offer",
          userId: `flooder-${index}`,
        }),
      );
      clock.advance(1_000);
    }
    await process();
    const reasons = (await Promise.all(ids.map(resultOf))).map((r) => r.filtered?.reason ?? null);
    expect(reasons).toEqual([null, null, null, "text_flood", "text_flood"]);
  });

  it("filters feedback given before the answer could have been read", async () => {
    nextCase();
    const answer = await recordInteraction(t, { response: "x".repeat(500) });
    clock.advance(800); // 500 characters at 100/s plus 1 s take 6 s
    const fast = await submit("binary", {
      interactionId: answer.id,
      positive: false,
      userId: "fast-user",
    });
    clock.advance(10_000);
    const slow = await submit("binary", {
      interactionId: answer.id,
      positive: false,
      userId: "slow-user",
    });
    await process();
    expect((await resultOf(fast)).filtered).toEqual({
      reason: "too_fast",
      detail: "feedback 800 ms after the answer; reading it takes at least 6000 ms",
    });
    expect((await resultOf(slow)).filtered).toBeNull();
  });

  it("filters known bot user agents", async () => {
    nextCase();
    const [answer] = await answers(1);
    const bot = await submit(
      "binary",
      { interactionId: answer!.id, positive: true, userId: "crawler" },
      {
        headers: {
          "user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        },
      },
    );
    const person = await submit(
      "binary",
      { interactionId: answer!.id, positive: true, userId: "person" },
      { headers: { "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0" } },
    );
    await process();
    expect((await resultOf(bot)).filtered).toEqual({
      reason: "bot_user_agent",
      detail: 'user agent matches "bot"',
    });
    expect((await resultOf(person)).filtered).toBeNull();
  });

  it("filters a burst from one client address among browser tokens, storing no raw address", async () => {
    nextCase();
    const targets = await answers(6);
    const ids: string[] = [];
    for (const target of targets) {
      ids.push(
        await submit(
          "binary",
          { interactionId: target.id, positive: false },
          { token: target.token, headers: { "x-forwarded-for": "203.0.113.7, 10.0.0.1" } },
        ),
      );
      clock.advance(1_000);
    }
    await process();
    const reasons = (await Promise.all(ids.map(resultOf))).map((r) => r.filtered?.reason ?? null);
    expect(reasons).toEqual([null, null, null, null, "ip_burst", "ip_burst"]);
    const stored = await dbFeedback(ids[0]!);
    expect(stored.client?.ip).toMatch(/^[\w-]{22}$/);
    expect(JSON.stringify(stored)).not.toContain("203.0.113.7");
  });

  it("a rater who always disagrees with consensus loses weight", async () => {
    nextCase();
    const targets = await answers(6);
    for (const target of targets) {
      for (const rater of ["honest-a", "honest-b", "honest-c"]) {
        await submit("binary", { interactionId: target.id, positive: true, userId: rater });
      }
      await submit("binary", { interactionId: target.id, positive: false, userId: "gamer" });
      clock.advance(20_000);
    }
    await process();
    const trust = await t.store.collections.raterTrust.find().toArray();
    const gamer = trust.find((doc) => doc.agreements === 0 && doc.disagreements === 6);
    expect(gamer?.trust).toBeCloseTo(1 / 8, 5);
    expect(trust.filter((doc) => doc.agreements === 6 && doc.disagreements === 0)).toHaveLength(3);

    // Their next reports on a new answer: same words, less weight, and a human looks first.
    clock.advance(60_000);
    const [fresh] = await answers(1);
    const byGamer = await submit("comment", {
      interactionId: fresh!.id,
      text: "Wrong answer.",
      userId: "gamer",
      sentiment: "NEGATIVE",
    });
    const byHonest = await submit("comment", {
      interactionId: fresh!.id,
      text: "Wrong answer.",
      userId: "honest-a",
      sentiment: "NEGATIVE",
    });
    await process();
    const gamerResult = await resultOf(byGamer);
    const honestResult = await resultOf(byHonest);
    expect(gamerResult.quality).toBeLessThan(0.35);
    expect(honestResult.quality).toBeGreaterThan(0.6);
    expect(gamerResult.route).toBe("EXPERT_REVIEW");
  });

  it("categorizes by the configured rules and routes each category", async () => {
    nextCase();
    const targets = await answers(6);
    const cases = [
      ["The formatting is a wall of text", "FORMAT", "rule:format-text", "PROMPT_BACKLOG"],
      [
        "It didn't know the new pricing, this is outdated",
        "KNOWLEDGE_GAP",
        "rule:knowledge-gap-text",
        "RAG_UPDATE",
      ],
      [
        "Please add dark mode to the widget",
        "FEATURE_REQUEST",
        "rule:feature-request-text",
        "PRODUCT_BACKLOG",
      ],
      ["Totally off-topic reply", "RELEVANCE", "rule:relevance-text", "PROMPT_BACKLOG"],
      ["ok", null, null, null],
    ] as const;
    const ids: string[] = [];
    for (const [index, [text]] of cases.entries()) {
      ids.push(
        await submit("comment", {
          interactionId: targets[index]!.id,
          text,
          userId: `cat-${index}`,
          sentiment: "NEGATIVE",
        }),
      );
    }
    const flag = await submit("flag", {
      interactionId: targets[5]!.id,
      category: "SAFETY",
      severity: "HIGH",
      reason: "told me how to hurt someone",
      userId: "cat-flag",
    });
    await process();
    for (const [index, [, category, by, route]] of cases.entries()) {
      expect(await resultOf(ids[index]!)).toMatchObject({ category, categorizedBy: by, route });
    }
    expect(await resultOf(flag)).toMatchObject({
      category: "SAFETY",
      categorizedBy: "rule:declared",
      route: "GUARDRAIL",
      priority: 10,
    });
  });

  it("groups similar failures by normalized query and ranks them by severity × frequency", async () => {
    nextCase();
    const queries = [
      "What is the price of plan 12?",
      "what is the PRICE of plan 40",
      "What is the price of plan 7??",
    ];
    const targets = await answers(3, (i) => queries[i]!);
    const ids: string[] = [];
    for (const [index, target] of targets.entries()) {
      ids.push(
        await submit("comment", {
          interactionId: target.id,
          text: "That price is wrong",
          userId: `price-${index}`,
          sentiment: "NEGATIVE",
        }),
      );
      clock.advance(1_000);
    }
    await process();
    const results = await Promise.all(ids.map(resultOf));
    expect(new Set(results.map((r) => r.groupKey)).size).toBe(1);
    expect(results.map((r) => r.priority)).toEqual([3, 6, 9]);
    // Isolated accuracy reports are verified by an expert; a frequent one becomes training data.
    expect(results.map((r) => r.route)).toEqual(["EXPERT_REVIEW", "EXPERT_REVIEW", "FINE_TUNING"]);
    const items = await t.gql(
      `query($route: RouteName) { routedItems(route: $route, state: OPEN, first: 50) { totalCount
        edges { node { id route groupKey category priority feedbackCount reason feedback { id } } } } }`,
      { route: "FINE_TUNING" },
    );
    const fineTuning = items.data?.routedItems.edges
      .map((e: any) => e.node)
      .find((n: any) => n.groupKey === results[0].groupKey);
    expect(fineTuning).toMatchObject({
      category: "ACCURACY",
      priority: 9,
      feedbackCount: 1,
      reason: "frequent accuracy issue",
      feedback: [{ id: ids[2] }],
    });
    const review = await t.gql(
      `{ routedItems(route: EXPERT_REVIEW, state: OPEN, first: 50) { edges { node { groupKey feedbackCount priority } } } }`,
    );
    expect(review.data?.routedItems.edges.map((e: any) => e.node)).toContainEqual({
      groupKey: results[0].groupKey,
      feedbackCount: 2,
      priority: 6,
    });
  });

  it("processing again decides the same: no second routing, no double counts", async () => {
    const before = await t.store.collections.routedItems
      .find({}, { projection: { feedbackCount: 1, feedbackIds: 1 } })
      .toArray();
    const all = await t.store.collections.feedback.find().toArray();
    const outcome = await t.services.pipeline.backfill({
      job: {
        id: "x",
        type: "pipeline.backfill",
        payload: {},
        key: null,
        attempt: 1,
        maxAttempts: 1,
        progress: null,
      },
      signal: new AbortController().signal,
      checkpoint: async () => {},
    });
    expect(outcome.processed).toBe(all.length);
    const after = await t.store.collections.routedItems
      .find({}, { projection: { feedbackCount: 1, feedbackIds: 1 } })
      .toArray();
    expect(after).toEqual(before);
    const again = await t.store.collections.feedback.find().toArray();
    // Quality follows trust learned since the first run; what was decided about each item stays.
    const strip = (docs: FeedbackDoc[]) =>
      docs.map((d) => ({
        duplicateOf: d.pipeline?.duplicateOf,
        filtered: d.pipeline?.filtered,
        category: d.pipeline?.category,
        groupKey: d.pipeline?.groupKey,
      }));
    expect(strip(again)).toEqual(strip(all));
  });

  it("closes routed items (admin only); the group's next feedback opens a fresh item", async () => {
    const open = await t.gql(
      `{ routedItems(route: PRODUCT_BACKLOG, state: OPEN, first: 1) { edges { node { id groupKey interactions { query } } } } }`,
    );
    const item = open.data?.routedItems.edges[0].node;
    const CLOSE = `mutation($id: ID!, $note: String) { closeRoutedItem(id: $id, note: $note) {
      __typename ... on RoutedItem { state closedBy closeNote closedAt } ... on Error { message } } }`;
    const reader = await t.key(["read"]);
    const refused = await t.gql(CLOSE, { id: item.id }, reader);
    expect(
      refused.errors?.[0]?.extensions?.code ?? refused.data?.closeRoutedItem.__typename,
    ).toMatch(/FORBIDDEN|ForbiddenError/);
    const closed = await t.gql(CLOSE, { id: item.id, note: "shipped in 2.4" });
    expect(closed.data?.closeRoutedItem).toMatchObject({
      __typename: "RoutedItem",
      state: "CLOSED",
      closeNote: "shipped in 2.4",
    });
    expect(closed.data?.closeRoutedItem.closedBy).toMatch(/^test ingest\+read\+admin \(/);
    const twice = await t.gql(CLOSE, { id: item.id });
    expect(twice.data?.closeRoutedItem).toMatchObject({ __typename: "ConflictError" });
    const listed = await t.gql(
      `{ routedItems(route: PRODUCT_BACKLOG, state: CLOSED, first: 5) { totalCount } }`,
    );
    expect(listed.data?.routedItems.totalCount).toBe(1);
    // The same request again: a fresh open item, the closed one stays as it was.
    clock.advance(3_600_000);
    const [again] = await answers(1, () => item.interactions[0].query);
    await submit("comment", {
      interactionId: again!.id,
      text: "Please add dark mode to the widget",
      userId: "cat-again",
      sentiment: "NEGATIVE",
    });
    await process();
    const reopened = await t.gql(
      `{ routedItems(route: PRODUCT_BACKLOG, state: OPEN, first: 5) { edges { node { id groupKey feedbackCount } } } }`,
    );
    const fresh = reopened.data?.routedItems.edges.map((e: any) => e.node);
    expect(fresh).toEqual([{ id: expect.any(String), groupKey: item.groupKey, feedbackCount: 1 }]);
    expect(fresh[0].id).not.toBe(item.id);
  });

  it("processes a batch in a constant number of round trips, whatever its size", async () => {
    nextCase();
    const targets = await answers(40);
    for (const [index, target] of targets.entries()) {
      await submit("comment", {
        interactionId: target.id,
        text: `The table format is broken ${index}`,
        userId: `bulk-${index % 20}`,
        sentiment: "NEGATIVE",
      });
    }
    // The writes' after-answer work (feedback/outbox.ts) finishes first: only the batch counts.
    await t.services.outbox.drain();
    t.commands.length = 0;
    const { processed, batches } = await process();
    expect(processed).toBe(40);
    expect(batches).toBe(1);
    const names = t.commands.map(
      (c) => `${c.commandName} ${String((c.command as any)[c.commandName])}`,
    );
    // find batch, interactions, siblings, spam window, trust, conflicts, groups, routed items ×2,
    // feedback results: ten round trips for forty feedback.
    expect(names).toHaveLength(10);
  });
});

describe("pipeline configuration", () => {
  it("reports bad rules and a webhook without a secret with every other problem", () => {
    let problems = "";
    try {
      loadConfig({
        PIPELINE_CATEGORY_RULES: '[{"name":"x","category":"accuracy","text":"("}]',
        PIPELINE_GUARDRAIL_WEBHOOK_URL: "http://127.0.0.1:9/hook",
        PIPELINE_USER_BURST_MAX: "-1",
      });
    } catch (error) {
      problems = (error as Error).message;
    }
    expect(problems).toContain(
      "PIPELINE_CATEGORY_RULES: 0.text: is not a valid regular expression",
    );
    expect(problems).toContain("PIPELINE_USER_BURST_MAX:");
    expect(problems).toContain(
      "PIPELINE_GUARDRAIL_WEBHOOK_SECRET: is required when PIPELINE_GUARDRAIL_WEBHOOK_URL is set",
    );
    const config = loadConfig({
      PIPELINE_CATEGORY_RULES: '[{"name":"refunds","category":"knowledge_gap","keys":["refund"]}]',
    });
    expect(config.pipeline.categoryRules).toEqual([
      { name: "refunds", category: "knowledge_gap", keys: ["refund"] },
    ]);
  });
});
