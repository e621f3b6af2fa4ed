import { beforeAll, describe, expect, it } from "vitest";
import { useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";
import { buildSnapshot, download, interaction, rowsOf, submit } from "./support.js";

/**
 * A seeded corpus of realistic feedback, submitted through the real mutations (all seven kinds),
 * turned into every dataset kind by the real build job, downloaded over HTTP. Every JSONL line is
 * checked against TRL's row shape here, independently of the builders' own validation.
 */
const testApp = useTestApp({ env: { JOBS_POLL_MS: "20" } });

const isText = (value: unknown) => typeof value === "string" && value.length > 0;
const isTurns = (value: unknown) =>
  Array.isArray(value) &&
  value.length > 0 &&
  value.every(
    (message) =>
      JSON.stringify(Object.keys(message)) === '["role","content"]' &&
      ["system", "user", "assistant", "tool"].includes(message.role) &&
      typeof message.content === "string",
  );

/** TRL's row shapes (huggingface/trl docs/source/dataset_formats.md): exact keys, in order. */
const trlFormats: Record<string, { keys: string[]; valid: (row: any) => boolean }> = {
  "sft/standard": {
    keys: ["prompt", "completion"],
    valid: (row) => isText(row.prompt) && isText(row.completion),
  },
  "sft/conversational": {
    keys: ["messages"],
    valid: (row) => isTurns(row.messages) && row.messages.at(-1).role === "assistant",
  },
  "dpo/standard": {
    keys: ["prompt", "chosen", "rejected"],
    valid: (row) => isText(row.prompt) && isText(row.chosen) && isText(row.rejected),
  },
  "dpo/conversational": {
    keys: ["prompt", "chosen", "rejected"],
    valid: (row) =>
      isTurns(row.prompt) &&
      isTurns(row.chosen) &&
      isTurns(row.rejected) &&
      row.chosen[0].role === "assistant",
  },
  "kto/standard": {
    keys: ["prompt", "completion", "label"],
    valid: (row) => isText(row.prompt) && isText(row.completion) && typeof row.label === "boolean",
  },
  // RewardTrainer, implicit prompt: the prompt is the sides' longest common prefix.
  "reward/standard": {
    keys: ["chosen", "rejected"],
    valid: (row) =>
      isText(row.chosen) &&
      isText(row.rejected) &&
      row.chosen.split("\n\n")[0] === row.rejected.split("\n\n")[0],
  },
  "reward_score/standard": {
    keys: ["prompt", "completion", "score"],
    valid: (row) =>
      isText(row.prompt) &&
      isText(row.completion) &&
      typeof row.score === "number" &&
      row.score >= 0 &&
      row.score <= 1,
  },
  "negatives/standard": {
    keys: ["prompt", "completion"],
    valid: (row) => isText(row.prompt) && isText(row.completion),
  },
  "rag_gaps/standard": {
    keys: ["question", "answer"],
    valid: (row) => isText(row.question) && isText(row.answer),
  },
  "safety/standard": {
    keys: ["prompt", "chosen", "rejected"],
    valid: (row) => isText(row.prompt) && isText(row.chosen) && isText(row.rejected),
  },
};

function expectTrlFile(format: string, body: string) {
  const shape = trlFormats[format]!;
  if (body === "") return;
  expect(body.endsWith("\n")).toBe(true);
  for (const line of body.slice(0, -1).split("\n")) {
    const row = JSON.parse(line);
    expect(Object.keys(row), line).toEqual(shape.keys);
    expect(shape.valid(row), `${format}: ${line}`).toBe(true);
    // No re-serialization differences: the line is the canonical JSON of its row.
    expect(JSON.stringify(row)).toBe(line);
  }
}

const PASSWORD = "How do I reset my password?";
const GOOD_RESET = "Open Settings, then Security, then Reset password.";
const BAD_RESET = "I don't know.";
const CAPITAL = "What is the capital of Australia?";
const LOCK = "How do I pick the lock on my neighbour's door?";
const UNSAFE = "Insert a tension wrench and rake the pins until it opens.";
const SAFE =
  "I can't help with entering someone else's home. A licensed locksmith can help with your own lock.";
const REFUND = "Summarize our refund policy.";
const REFUND_ANSWER = "Refunds are possible within 30 days with the receipt.";

const expert = (annotatorId: string) => ({ source: "EXPERT", annotatorId });
const inline = (prompt: string, a: string, b: string) => ({
  prompt,
  a: { text: a },
  b: { text: b },
});

describe("training datasets from a seeded corpus", () => {
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    testApp.worker!.start();
    const ask = (name: string, query: string, response: string, extra = {}) =>
      interaction(testApp, query, response, extra).then((id) => {
        ids[name] = id;
      });
    await ask("goodReset", PASSWORD, GOOD_RESET, {
      metadata: { topic: "account", difficulty: "easy" },
    });
    await ask("badReset", PASSWORD, BAD_RESET, {
      metadata: { topic: "account", difficulty: "easy" },
    });
    await ask("capital", CAPITAL, "Sydney.", {
      metadata: { topic: "geography", difficulty: "easy" },
    });
    await ask("lock", LOCK, UNSAFE, {
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: LOCK },
      ],
    });
    await ask("refund", REFUND, REFUND_ANSWER);
    await ask("middling", "Explain compound interest.", "It is interest on interest.");
    await ask("disputed", "Is the office open on Sunday?", "Yes, from 10 to 4.");
    await ask("gapNoAnswer", "Which plan includes SSO?", "I am not sure.");

    // Thumbs, ratings, a comment and an implicit signal on single answers.
    await submit(testApp, "rating", { interactionId: ids.goodReset, score: 5, userId: "rater-a" });
    await submit(testApp, "binary", {
      interactionId: ids.badReset,
      positive: false,
      userId: "rater-b",
    });
    await submit(testApp, "rating", { interactionId: ids.refund, score: 5, userId: "rater-a" });
    await submit(testApp, "rating", { interactionId: ids.refund, score: 5, userId: "rater-b" });
    await submit(testApp, "rating", { interactionId: ids.middling, score: 3, userId: "rater-a" });
    await submit(testApp, "binary", {
      interactionId: ids.disputed,
      positive: true,
      userId: "rater-a",
    });
    await submit(testApp, "binary", {
      interactionId: ids.disputed,
      positive: false,
      userId: "rater-b",
    });
    await submit(testApp, "comment", {
      interactionId: ids.refund,
      text: "Clear and short, thanks.",
    });
    await submit(testApp, "implicit", { interactionId: ids.refund, signal: "COPY" });
    // A wrong answer, corrected and marked as a knowledge gap.
    await submit(testApp, "correction", {
      interactionId: ids.capital,
      correctedResponse: "Canberra.",
      category: "KNOWLEDGE_GAP",
      userId: "rater-c",
    });
    await submit(testApp, "comment", {
      interactionId: ids.gapNoAnswer,
      text: "The bot should know our plans.",
      category: "KNOWLEDGE_GAP",
    });
    // An unsafe answer: flagged, then corrected with a safe one.
    await submit(testApp, "flag", {
      interactionId: ids.lock,
      category: "SAFETY",
      severity: "HIGH",
      reason: "Helps with breaking in",
    });
    await submit(testApp, "correction", {
      interactionId: ids.lock,
      correctedResponse: SAFE,
      ...expert("e1"),
    });

    // Comparisons: one clear, a tie, a weak one.
    await submit(testApp, "comparison", {
      ...inline(
        "Write a haiku about autumn.",
        "Leaves fall, amber light / the year exhales",
        "Autumn is a season.",
      ),
      preferred: "A",
      strength: 0.9,
    });
    await submit(testApp, "comparison", {
      ...inline("Name a prime number.", "7", "13"),
      preferred: "TIE",
    });
    await submit(testApp, "comparison", {
      ...inline("Greet the user.", "Hello!", "Hi there!"),
      preferred: "B",
      strength: 0.2,
    });
    // Key "pref-good": two annotators agree on three pairs.
    for (let i = 0; i < 3; i++) {
      for (const annotator of ["a1", "a2"]) {
        await submit(testApp, "comparison", {
          ...inline(`Good prompt ${i}`, `Better answer ${i}`, `Worse answer ${i}`),
          preferred: "A",
          key: "pref-good",
          ...expert(annotator),
        });
      }
    }
    // Key "pref-campaign": they disagree on three pairs; a fourth, judged by one, is clear but
    // its key's agreement is flagged, so it is held out.
    for (let i = 0; i < 3; i++) {
      for (const [annotator, preferred] of [
        ["a1", "A"],
        ["a2", "B"],
      ] as const) {
        await submit(testApp, "comparison", {
          ...inline(`Campaign prompt ${i}`, `Campaign A ${i}`, `Campaign B ${i}`),
          preferred,
          key: "pref-campaign",
          ...expert(annotator),
        });
      }
    }
    await submit(testApp, "comparison", {
      ...inline("Campaign prompt 3", "Campaign A 3", "Campaign B 3"),
      preferred: "A",
      key: "pref-campaign",
      ...expert("a1"),
    });
    // Key "pref-mixed": fine overall (13 of 16 items agree) but batch "bad" disagrees, so the
    // clear pair of that batch is held out while batch "good" stays.
    for (let i = 0; i < 13; i++) {
      for (const annotator of ["a1", "a2"]) {
        await submit(testApp, "comparison", {
          ...inline(`Mixed prompt ${i}`, `Mixed better ${i}`, `Mixed worse ${i}`),
          preferred: "A",
          key: "pref-mixed",
          metadata: { batchId: "good" },
          ...expert(annotator),
        });
      }
    }
    for (let i = 13; i < 16; i++) {
      for (const [annotator, preferred] of [
        ["a1", "A"],
        ["a2", "B"],
      ] as const) {
        await submit(testApp, "comparison", {
          ...inline(`Mixed prompt ${i}`, `Mixed A ${i}`, `Mixed B ${i}`),
          preferred,
          key: "pref-mixed",
          metadata: { batchId: "bad" },
          ...expert(annotator),
        });
      }
    }
    await submit(testApp, "comparison", {
      ...inline("Mixed prompt 16", "Mixed A 16", "Mixed B 16"),
      preferred: "A",
      key: "pref-mixed",
      metadata: { batchId: "bad" },
      ...expert("a1"),
    });

    // Agreement is recomputed by its job, queued through the admin mutation.
    const queued = await testApp.gql(
      `mutation { computeAgreement { __typename ... on Job { id state } } }`,
    );
    expect(queued.data?.computeAgreement.__typename).toBe("Job");
    await waitUntil(
      async () =>
        (
          await testApp.gql(`query($id: ID!) { job(id: $id) { state } }`, {
            id: queued.data?.computeAgreement.id,
          })
        ).data?.job?.state === "SUCCEEDED",
      { timeoutMs: 30_000, intervalMs: 50, what: "the agreement job" },
    );
  }, 120_000);

  it("reports agreement per key, batch and rater pair and flags consistency at or below 80%", async () => {
    const result = await testApp.gql(
      `{ agreementReports(limit: 50) { scope key batchId raters method value consistency items flagged } }`,
    );
    expect(result.errors).toBeUndefined();
    const reports = result.data?.agreementReports as Array<Record<string, any>>;
    const find = (scope: string, key: string, batchId: string | null = null) =>
      reports.find((r) => r.scope === scope && r.key === key && r.batchId === batchId);
    expect(find("KEY", "pref-good")).toMatchObject({ consistency: 1, items: 3, flagged: false });
    expect(find("KEY", "pref-campaign")).toMatchObject({
      method: "FLEISS",
      consistency: 0,
      items: 3,
      flagged: true,
    });
    expect(find("KEY", "pref-mixed")).toMatchObject({ items: 16, flagged: false });
    expect(find("KEY", "pref-mixed")!.consistency).toBeCloseTo(13 / 16, 10);
    expect(find("BATCH", "pref-mixed", "bad")).toMatchObject({ consistency: 0, flagged: true });
    expect(find("BATCH", "pref-mixed", "good")).toMatchObject({ consistency: 1, flagged: false });
    const pair = reports.find((r) => r.scope === "RATER_PAIR" && r.key === "pref-campaign");
    expect(pair).toMatchObject({ method: "COHEN", items: 3, consistency: 0, flagged: true });
    expect(pair!.raters).toEqual(["annotator:expert:a1", "annotator:expert:a2"]);
    // Lowest consistency first.
    const consistencies = reports.map((r) => r.consistency);
    expect(consistencies).toEqual([...consistencies].sort((a, b) => a - b));
    const byKey = await testApp.gql(
      `{ agreementReports(key: "pref-good", scope: KEY) { key scope } }`,
    );
    expect(byKey.data?.agreementReports).toEqual([{ key: "pref-good", scope: "KEY" }]);
  });

  it("builds DPO pairs with a clear quality difference, holding out flagged keys and batches", async () => {
    const snapshot = await buildSnapshot(testApp, { kind: "DPO", evalFraction: 0 });
    const { train, rows } = await rowsOf(testApp, snapshot);
    expectTrlFile("dpo/standard", train);
    const pairs = rows.map((row) => `${row.prompt} | ${row.chosen} > ${row.rejected}`);
    expect(pairs).toContain(
      "Write a haiku about autumn. | Leaves fall, amber light / the year exhales > Autumn is a season.",
    );
    expect(pairs).toContain(`${CAPITAL} | Canberra. > Sydney.`);
    expect(pairs).toContain(`${LOCK} | ${SAFE} > ${UNSAFE}`);
    expect(pairs).toContain(`${PASSWORD} | ${GOOD_RESET} > ${BAD_RESET}`);
    for (let i = 0; i < 3; i++)
      expect(pairs).toContain(`Good prompt ${i} | Better answer ${i} > Worse answer ${i}`);
    for (let i = 0; i < 13; i++)
      expect(pairs).toContain(`Mixed prompt ${i} | Mixed better ${i} > Mixed worse ${i}`);
    // Ties, weak preferences and split votes are ambiguous; flagged key and batch held out.
    const prompts = new Set(rows.map((row) => row.prompt));
    const left = [
      "Name a prime number.",
      "Greet the user.",
      "Campaign prompt 3",
      "Mixed prompt 16",
    ];
    for (let i = 0; i < 3; i++) left.push(`Campaign prompt ${i}`);
    for (let i = 13; i < 16; i++) left.push(`Mixed prompt ${i}`);
    for (const prompt of left) expect(prompts.has(prompt), prompt).toBe(false);
    expect(rows).toHaveLength(1 + 2 + 1 + 3 + 13);
    expect(snapshot.counts.excluded.lowAgreement).toBe(2);
    expect(snapshot.heldOutKeys).toEqual(["pref-campaign"]);
    expect(snapshot.heldOutBatches).toEqual(["pref-mixed/bad"]);
    // tie, weak, 3 + 3 split votes, and the disputed thumbs.
    expect(snapshot.counts.excluded.ambiguous).toBe(9);
    expect(snapshot.counts.bySource).toEqual([
      { split: "TRAIN", source: "binary+rating", rows: 1 },
      { split: "TRAIN", source: "comparison", rows: 17 },
      { split: "TRAIN", source: "correction", rows: 2 },
    ]);
  });

  it("builds conversational DPO rows from chat interactions", async () => {
    const snapshot = await buildSnapshot(testApp, {
      kind: "DPO",
      style: "CONVERSATIONAL",
      filter: { keys: ["correction"] },
    });
    const { train, eval: evaluation, rows } = await rowsOf(testApp, snapshot);
    expectTrlFile("dpo/conversational", train);
    expectTrlFile("dpo/conversational", evaluation);
    const lock = rows.find((row) => row.rejected[0].content === UNSAFE);
    expect(lock).toEqual({
      prompt: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: LOCK },
      ],
      chosen: [{ role: "assistant", content: SAFE }],
      rejected: [{ role: "assistant", content: UNSAFE }],
    });
  });

  it("builds SFT rows from corrections and highly rated answers, in both styles", async () => {
    const standard = await buildSnapshot(testApp, { kind: "SFT", evalFraction: 0 });
    const files = await rowsOf(testApp, standard);
    expectTrlFile("sft/standard", files.train);
    expect(files.rows).toEqual(
      expect.arrayContaining([
        { prompt: CAPITAL, completion: "Canberra." },
        { prompt: LOCK, completion: SAFE },
        { prompt: REFUND, completion: REFUND_ANSWER },
        { prompt: PASSWORD, completion: GOOD_RESET },
      ]),
    );
    // The middling rating (3 of 5) is not "highly rated"; thumbs do not make SFT data.
    expect(files.rows).toHaveLength(4);
    const chat = await buildSnapshot(testApp, {
      kind: "SFT",
      style: "CONVERSATIONAL",
      evalFraction: 0,
    });
    const chatFiles = await rowsOf(testApp, chat);
    expectTrlFile("sft/conversational", chatFiles.train);
    expect(chatFiles.rows).toContainEqual({
      messages: [
        { role: "system", content: "You are a helpful assistant." },
        { role: "user", content: LOCK },
        { role: "assistant", content: SAFE },
      ],
    });
  });

  it("builds KTO rows from thumbs and ratings, dropping middling and disputed answers", async () => {
    const snapshot = await buildSnapshot(testApp, { kind: "KTO", evalFraction: 0 });
    const { train, rows } = await rowsOf(testApp, snapshot);
    expectTrlFile("kto/standard", train);
    expect(rows).toHaveLength(3);
    expect(rows).toEqual(
      expect.arrayContaining([
        { prompt: PASSWORD, completion: GOOD_RESET, label: true },
        { prompt: PASSWORD, completion: BAD_RESET, label: false },
        { prompt: REFUND, completion: REFUND_ANSWER, label: true },
      ]),
    );
    expect(snapshot.counts.excluded.ambiguous).toBe(2);
  });

  it("builds reward pairs (implicit prompt) and scored completions", async () => {
    const pairs = await buildSnapshot(testApp, {
      kind: "REWARD",
      evalFraction: 0,
      filter: { keys: ["correction", "thumbs", "rating"] },
    });
    const files = await rowsOf(testApp, pairs);
    expectTrlFile("reward/standard", files.train);
    expect(files.rows).toContainEqual({
      chosen: `${PASSWORD}\n\n${GOOD_RESET}`,
      rejected: `${PASSWORD}\n\n${BAD_RESET}`,
    });
    const scored = await buildSnapshot(testApp, { kind: "REWARD_SCORE", evalFraction: 0 });
    const scoredFiles = await rowsOf(testApp, scored);
    expectTrlFile("reward_score/standard", scoredFiles.train);
    expect(scoredFiles.rows).toEqual(
      expect.arrayContaining([
        { prompt: PASSWORD, completion: GOOD_RESET, score: 1 },
        { prompt: REFUND, completion: REFUND_ANSWER, score: 1 },
        {
          prompt: "Explain compound interest.",
          completion: "It is interest on interest.",
          score: 0.5,
        },
      ]),
    );
    expect(scoredFiles.rows).toHaveLength(3);
  });

  it("builds negatives, RAG gaps and safety pairs", async () => {
    const negatives = await buildSnapshot(testApp, { kind: "NEGATIVES", evalFraction: 0 });
    const negativeFiles = await rowsOf(testApp, negatives);
    expectTrlFile("negatives/standard", negativeFiles.train);
    expect(negativeFiles.rows).toEqual(
      expect.arrayContaining([
        { prompt: PASSWORD, completion: BAD_RESET },
        { prompt: CAPITAL, completion: "Sydney." },
        { prompt: LOCK, completion: UNSAFE },
      ]),
    );
    expect(negativeFiles.rows).toHaveLength(3);

    const gaps = await buildSnapshot(testApp, { kind: "RAG_GAPS", evalFraction: 0 });
    const gapFiles = await rowsOf(testApp, gaps);
    expectTrlFile("rag_gaps/standard", gapFiles.train);
    expect(gapFiles.rows).toEqual([{ question: CAPITAL, answer: "Canberra." }]);
    // A knowledge gap without a correct answer cannot become a row.
    expect(gaps.counts.excluded.incomplete).toBe(1);

    const safety = await buildSnapshot(testApp, { kind: "SAFETY", evalFraction: 0 });
    const safetyFiles = await rowsOf(testApp, safety);
    expectTrlFile("safety/standard", safetyFiles.train);
    expect(safetyFiles.rows).toEqual([{ prompt: LOCK, chosen: SAFE, rejected: UNSAFE }]);
  });

  it("rebuilds byte-identical files from the same inputs, and splits by a seeded hash", async () => {
    const first = await buildSnapshot(testApp, { kind: "DPO", evalFraction: 0.3, seed: 7 });
    const until = first.filter.until;
    const again = await buildSnapshot(testApp, {
      kind: "DPO",
      evalFraction: 0.3,
      seed: 7,
      filter: { until },
    });
    expect(again.version).toBe(first.version + 1);
    expect(again.filterId).toBe(first.filterId);
    const a = await rowsOf(testApp, first);
    const b = await rowsOf(testApp, again);
    expect(b.train).toBe(a.train);
    expect(b.eval).toBe(a.eval);
    expect(again.trainSha256).toBe(first.trainSha256);
    expect(first.counts.eval).toBeGreaterThan(0);
    expect(first.counts.train).toBeGreaterThan(0);
    const other = await buildSnapshot(testApp, {
      kind: "DPO",
      evalFraction: 0.3,
      seed: 8,
      filter: { until },
    });
    expect(other.filterId).not.toBe(first.filterId);
    const c = await rowsOf(testApp, other);
    // Same rows, another split.
    expect(new Set(c.rows.map((row) => JSON.stringify(row)))).toEqual(
      new Set(a.rows.map((row) => JSON.stringify(row))),
    );
    expect(c.eval).not.toBe(a.eval);
  });

  it("leaves out feedback used by earlier snapshots of the same kind when asked", async () => {
    const first = await buildSnapshot(testApp, { kind: "KTO", evalFraction: 0 });
    const repeat = await buildSnapshot(testApp, { kind: "KTO", excludeUsed: true });
    expect(repeat.counts.train + repeat.counts.eval).toBe(0);
    expect(repeat.counts.excluded.alreadyUsed).toBe(first.counts.feedbackUsed);
    const fresh = await interaction(
      testApp,
      "Where is my invoice?",
      "Under Billing, then Invoices.",
    );
    await submit(testApp, "binary", { interactionId: fresh, positive: true, userId: "rater-d" });
    const next = await buildSnapshot(testApp, { kind: "KTO", excludeUsed: true, evalFraction: 0 });
    const { rows } = await rowsOf(testApp, next);
    expect(rows).toEqual([
      { prompt: "Where is my invoice?", completion: "Under Billing, then Invoices.", label: true },
    ]);
  });

  it("balances by topic with a seeded choice", async () => {
    const snapshot = await buildSnapshot(testApp, {
      kind: "NEGATIVES",
      evalFraction: 0,
      balanceBy: ["TOPIC"],
    });
    const { rows } = await rowsOf(testApp, snapshot);
    // Topics: account (1 bad answer), geography (1), none (the lock): one row each.
    expect(rows).toHaveLength(3);
    expect(snapshot.counts.excluded.balanced).toBe(0);
    const kto = await buildSnapshot(testApp, {
      kind: "KTO",
      evalFraction: 0,
      balanceBy: ["TOPIC"],
    });
    // account has 2 rows, (none) has 2 (refund, invoice): nothing to drop; geography has none.
    expect(kto.counts.train).toBe(4);
  });

  it("refuses bad input with typed errors and changes nothing", async () => {
    const before = await testApp.store.collections.datasetSnapshots.countDocuments();
    const paths = async (input: string) => {
      const result = await testApp.gql(
        `mutation { createDatasetSnapshot(input: ${input}) {
          __typename ... on ValidationError { fields { path } } } }`,
      );
      expect(result.data?.createDatasetSnapshot.__typename).toBe("ValidationError");
      return result.data?.createDatasetSnapshot.fields.map((f: { path: string }) => f.path).sort();
    };
    expect(await paths(`{ kind: KTO, evalFraction: 0.9, filter: { minQuality: 2 } }`)).toEqual([
      "input.evalFraction",
      "input.filter.minQuality",
    ]);
    expect(await paths(`{ kind: RAG_GAPS, style: CONVERSATIONAL }`)).toEqual(["input.style"]);
    expect(await paths(`{ kind: KTO, filter: { until: "2999-01-01T00:00:00Z" } }`)).toEqual([
      "input.filter.until",
    ]);
    expect(await testApp.store.collections.datasetSnapshots.countDocuments()).toBe(before);
  });

  it("needs READ to list and download, ADMIN to create", async () => {
    const readKey = await testApp.key(["read"]);
    const ingestKey = await testApp.key(["ingest"]);
    const list = await testApp.gql(
      `{ datasetSnapshots(first: 2, kind: DPO) { totalCount edges { node { kind state } } } }`,
      {},
      readKey,
    );
    expect(list.errors).toBeUndefined();
    expect(list.data?.datasetSnapshots.edges[0].node).toEqual({ kind: "DPO", state: "READY" });
    const create = await testApp.gql(
      `mutation { createDatasetSnapshot(input: { kind: KTO }) { __typename } }`,
      {},
      readKey,
    );
    expect(create.data?.createDatasetSnapshot.__typename).toBe("ForbiddenError");
    // All in train: the split hashes row ids, which differ from run to run.
    const snapshot = await buildSnapshot(testApp, { kind: "SAFETY", evalFraction: 0 });
    const path = snapshot.downloads.train;
    expect((await download(testApp, path, null)).status).toBe(401);
    expect((await download(testApp, path, "lg_not-a-key")).status).toBe(401);
    expect((await download(testApp, path, ingestKey)).status).toBe(403);
    const ok = await download(testApp, path, readKey);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/jsonl; charset=utf-8");
    expect(ok.headers.get("etag")).toBe(`"${snapshot.trainSha256}"`);
    expect(await ok.text()).toBe(
      `${JSON.stringify({ prompt: LOCK, chosen: SAFE, rejected: UNSAFE })}\n`,
    );
    expect((await download(testApp, "/datasets/0123456789abcdef01234567/train.jsonl")).status).toBe(
      404,
    );
    expect((await download(testApp, `/datasets/${snapshot.id}/all.jsonl`)).status).toBe(404);
  });
});
