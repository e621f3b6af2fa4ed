import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ObjectId } from "mongodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../src/errors.js";
import { hexToObjectId } from "../../src/ids.js";
import type { JudgesConfig } from "../../src/pipeline/judges-config.js";
import { createRlaifService, sampled } from "../../src/pipeline/rlaif.js";
import { recordInteraction, useTestApp } from "../support/app.js";
import { waitUntil } from "../support/poll.js";

/**
 * Automated feedback end to end: interactions recorded through the API, the job queued with
 * runJudges and run by the real worker, an OpenAI-compatible judge (a loopback fake endpoint) and
 * a rule judge on the sample, rule checks on every interaction, verdicts read back as feedback.
 */
let llm: Server;
let llmCalls = 0;
const env: Record<string, string> = { TEST_JUDGE_KEY: "sk-judge-test" };

beforeAll(async () => {
  // The fake judge fails answers that say "wrong", and passes the rest.
  llm = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => {
      body += chunk;
    });
    request.on("end", () => {
      llmCalls += 1;
      const sent = JSON.parse(body) as { messages: Array<{ content: string }> };
      const answer = sent.messages[1]?.content.split("Answer to evaluate:")[1] ?? "";
      const wrong = answer.includes("wrong");
      if (answer.includes("garble")) {
        response.writeHead(200, { "content-type": "application/json" });
        response.end(
          JSON.stringify({
            choices: [{ message: { role: "assistant", content: "I would rather not say." } }],
          }),
        );
        return;
      }
      const ok = request.headers.authorization === "Bearer sk-judge-test";
      response.writeHead(ok ? 200 : 401, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          choices: [
            {
              message: {
                role: "assistant",
                content: JSON.stringify({
                  score: wrong ? 0.1 : 0.9,
                  passed: !wrong,
                  category: wrong ? "accuracy" : null,
                  reasoning: wrong ? "The answer is incorrect." : "Correct and complete.",
                }),
              },
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((resolve) => llm.listen(0, "127.0.0.1", resolve));
  const config = {
    enabled: false,
    settleSeconds: 0,
    sampleRate: 0.5,
    startFrom: "2000-01-01T00:00:00Z",
    rubric: { id: "helpfulness", version: "2", instructions: "Is the answer correct?" },
    judges: [
      {
        type: "openai",
        name: "fake-gpt",
        baseUrl: `http://127.0.0.1:${(llm.address() as AddressInfo).port}/v1`,
        model: "judge-1",
        apiKeyEnv: "TEST_JUDGE_KEY",
      },
      // Fails short answers only: it disagrees with the LLM on long wrong ones.
      {
        type: "rules",
        name: "house-rules",
        checks: { length: { minChars: 12 } },
        relevance: false,
      },
    ],
    rules: { length: { minChars: 12 }, banned: ["\\bstupid\\b"] },
  };
  env.JUDGES_CONFIG = JSON.stringify(config);
});
afterAll(() => new Promise<void>((resolve) => llm.close(() => resolve())));

const testApp = useTestApp({ env });

const RUN = /* GraphQL */ `
  mutation { runJudges { __typename ... on Job { id type state } ... on Error { message code } } }
`;
const RUNS = /* GraphQL */ `
  query {
    judgeRuns(limit: 5) {
      id state judges rubric { id version } interactions sampled ruleVerdicts judgeVerdicts
      alreadyJudged failureCount
      crossValidation { judges items kappa percentAgreement categoryAgreement flagged }
    }
  }
`;
const FEEDBACK = /* GraphQL */ `
  query($sources: [FeedbackSource!]) {
    feedback(first: 100, filter: { sources: $sources }) {
      totalCount
      edges { node { source key kind category annotatorId comment metadata idempotencyKey
        interaction { id } ... on RatingFeedback { score } ... on BinaryFeedback { positive } } }
    }
  }
`;

const responses = [
  "Open Settings, then Security, then Reset password.",
  "This is the wrong menu entirely, sorry.",
  "ok",
  "You are stupid for asking that.",
  "The capital of Australia is Canberra.",
  "The capital of Australia is Sydney, which is wrong.",
  "Use the export button on the Reports page.",
  "no",
  "Paris is the capital of France.",
  "The wrong answer: 2 + 2 = 5.",
  "Call support at the number in your contract.",
  "yes",
];

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1] ?? "";

async function runJob(): Promise<string> {
  const result = await testApp.gql(RUN);
  expect(result.data?.runJudges.__typename).toBe("Job");
  const id = result.data?.runJudges.id as string;
  testApp.worker?.start();
  await waitUntil(
    async () => {
      const job = await testApp.services.jobs.get(
        hexToObjectId(Buffer.from(id, "base64").toString().split(":")[1] ?? "") ?? new ObjectId(),
      );
      return job?.state === "succeeded";
    },
    { timeoutMs: 20_000, what: "the judge run to succeed" },
  );
  return id;
}

describe("automated feedback (RLAIF)", () => {
  const ids: string[] = [];

  it("stores rule checks on every interaction and both judges' verdicts on the sample", async () => {
    for (const response of responses) ids.push((await recordInteraction(testApp, { response })).id);
    const raw = ids.map((id) => new ObjectId(Buffer.from(id, "base64").toString().split(":")[1]));
    const inSample = raw.filter((id) => sampled(id, 0.5));
    // Ids are random: with 12 of them an empty sample has a chance of 1 in 4096.
    expect(inSample.length).toBeGreaterThan(0);

    await runJob();

    const judged = await testApp.gql(FEEDBACK, { sources: ["LLM_JUDGE"] });
    expect(judged.errors).toBeUndefined();
    const verdicts = judged.data?.feedback.edges.map((edge: { node: unknown }) => edge.node) ?? [];
    expect(verdicts).toHaveLength(inSample.length);
    expect(llmCalls).toBe(inSample.length);
    for (const verdict of verdicts) {
      const response = responses[ids.indexOf(verdict.interaction.id)] ?? "";
      const wrong = response.includes("wrong");
      expect(verdict).toMatchObject({
        source: "LLM_JUDGE",
        key: "rlaif.helpfulness",
        kind: "RATING",
        annotatorId: "fake-gpt",
        score: wrong ? 0.1 : 0.9,
        category: wrong ? "ACCURACY" : null,
        metadata: {
          rubric: { id: "helpfulness", version: "2" },
          passed: !wrong,
          judge: "fake-gpt",
        },
      });
      expect(verdict.idempotencyKey).toContain(":fake-gpt:helpfulness:2");
    }

    const rules = await testApp.gql(FEEDBACK, { sources: ["RULE"] });
    const ruleNodes = rules.data?.feedback.edges.map((edge: { node: unknown }) => edge.node) ?? [];
    const checks = ruleNodes.filter((node: { key: string }) => node.key === "rlaif.rules");
    expect(checks).toHaveLength(responses.length);
    const failedChecks = checks.filter((node: { positive: boolean }) => !node.positive);
    // "ok", "no", "yes" are too short; the insult is banned content.
    expect(failedChecks).toHaveLength(4);
    const insult = checks.find(
      (node: { interaction: { id: string } }) => node.interaction.id === ids[3],
    );
    expect(insult).toMatchObject({ positive: false, category: "SAFETY", annotatorId: "rules" });
    expect(insult.metadata.checks).toEqual({ length: true, banned: false });
    // The rule judge's scores on the sample are stored beside them, under the rubric's key.
    expect(
      ruleNodes.filter((node: { key: string }) => node.key === "rlaif.helpfulness"),
    ).toHaveLength(inSample.length);

    const runs = await testApp.gql(RUNS);
    const [run] = runs.data?.judgeRuns ?? [];
    expect(run).toMatchObject({
      state: "SUCCEEDED",
      judges: ["fake-gpt", "house-rules"],
      rubric: { id: "helpfulness", version: "2" },
      interactions: responses.length,
      sampled: inSample.length,
      ruleVerdicts: responses.length,
      judgeVerdicts: 2 * inSample.length,
      alreadyJudged: 0,
      failureCount: 0,
    });
    // Expected cross-validation from the crafted answers: the LLM fails "wrong", the rule judge
    // fails short ones; they agree where neither or both apply.
    const agree = inSample.filter((id) => {
      const response = responses[raw.findIndex((other) => other.equals(id))] ?? "";
      return response.includes("wrong") === response.length < 12;
    }).length;
    expect(run.crossValidation.items).toBe(inSample.length);
    expect(run.crossValidation.percentAgreement).toBeCloseTo(agree / inSample.length, 10);
    expect(run.crossValidation.judges).toEqual(["fake-gpt", "house-rules"]);

    const agreement = await testApp.gql(/* GraphQL */ `
      query { judgeAgreement { items percentAgreement kappa flagged rubric { version } } }
    `);
    expect(agreement.data?.judgeAgreement).toMatchObject({
      items: inSample.length,
      rubric: { version: "2" },
    });
    expect(agreement.data?.judgeAgreement.percentAgreement).toBeCloseTo(
      agree / inSample.length,
      10,
    );
  });

  it("a rerun over the same interactions stores nothing twice and asks the LLM nothing again", async () => {
    const before = (await testApp.gql(FEEDBACK, {})).data?.feedback.totalCount;
    const calls = llmCalls;
    // Rewind the watermark: the next run walks every interaction again.
    await testApp.store.collections.judgeWatermarks.deleteMany({});
    await runJob();
    expect((await testApp.gql(FEEDBACK, {})).data?.feedback.totalCount).toBe(before);
    expect(llmCalls).toBe(calls);
    const [run] = (await testApp.gql(RUNS)).data?.judgeRuns ?? [];
    expect(run).toMatchObject({
      state: "SUCCEEDED",
      interactions: responses.length,
      judgeVerdicts: 0,
      ruleVerdicts: 0,
    });
    expect(run.alreadyJudged).toBeGreaterThanOrEqual(responses.length);
    // The stored verdicts still count for agreement.
    expect(run.crossValidation.items).toBeGreaterThan(0);
  });

  it("a run with nothing new walks nothing", async () => {
    await runJob();
    const [run] = (await testApp.gql(RUNS)).data?.judgeRuns ?? [];
    expect(run).toMatchObject({ state: "SUCCEEDED", interactions: 0, judgeVerdicts: 0 });
  });

  it("skips and reports interactions a judge answers with malformed output", async () => {
    // Record until one lands in the sample (each has an even chance).
    const garbled: string[] = [];
    for (let i = 0; i < 40 && !garbled.some((id) => sampled(new ObjectId(rawId(id)), 0.5)); i++) {
      garbled.push((await recordInteraction(testApp, { response: `garble number ${i} here` })).id);
    }
    const inSample = garbled.filter((id) => sampled(new ObjectId(rawId(id)), 0.5));
    expect(inSample.length).toBe(1);
    await runJob();
    const [run] =
      (
        await testApp.gql(/* GraphQL */ `
        query { judgeRuns(limit: 1) { state interactions sampled judgeVerdicts failureCount failures { judge interactionId error } } }
      `)
      ).data?.judgeRuns ?? [];
    expect(run).toMatchObject({
      state: "SUCCEEDED",
      interactions: garbled.length,
      sampled: 1,
      // The rule judge still judged it; the LLM's answer was refused.
      judgeVerdicts: 1,
      failureCount: 1,
    });
    expect(run.failures).toEqual([
      {
        judge: "fake-gpt",
        interactionId: inSample[0],
        error: expect.stringContaining("no JSON object"),
      },
    ]);
    const judged = await testApp.gql(FEEDBACK, { sources: ["LLM_JUDGE"] });
    const onGarbled = judged.data?.feedback.edges.filter(
      (edge: { node: { interaction: { id: string } } }) => edge.node.interaction.id === inSample[0],
    );
    expect(onGarbled).toEqual([]);
  });

  it("refuses a changed rubric text under the same version", async () => {
    const config = testApp.config.judges as JudgesConfig;
    const changed = createRlaifService({
      collections: testApp.store.collections,
      feedback: testApp.services.feedback,
      keys: testApp.services.keys,
      clock: { now: () => new Date() },
      config: { ...config, rubric: { ...config.rubric, instructions: "Is the answer polite?" } },
    });
    const run = changed.run({
      runId: new ObjectId(),
      signal: new AbortController().signal,
      progress: null,
      checkpoint: async () => undefined,
    });
    await expect(run).rejects.toBeInstanceOf(ConflictError);
    await expect(run).rejects.toThrow(/requires a new version/);
  });

  it("checkpoints each batch and resumes after the last checkpointed interaction", async () => {
    const config = testApp.config.judges as JudgesConfig;
    const rulesOnly = createRlaifService({
      collections: testApp.store.collections,
      feedback: testApp.services.feedback,
      keys: testApp.services.keys,
      clock: { now: () => new Date() },
      config: { ...config, batchSize: 1, sampleRate: 0, rules: { length: { minChars: 5 } } },
    });
    const [a, b, c] = [
      await recordInteraction(testApp, { response: "first answer" }),
      await recordInteraction(testApp, { response: "second answer" }),
      await recordInteraction(testApp, { response: "third answer" }),
    ].map((recorded) => rawId(recorded.id));
    const checkpoints: Array<Record<string, unknown>> = [];
    // As if an earlier attempt had finished the batch of `a` and then crashed.
    const run = await rulesOnly.run({
      runId: new ObjectId(),
      signal: new AbortController().signal,
      progress: {
        lastId: a,
        fromId: a,
        totals: {
          interactions: 1,
          sampled: 0,
          ruleVerdicts: 1,
          judgeVerdicts: 0,
          alreadyJudged: 0,
          failureCount: 0,
        },
      },
      checkpoint: async (progress) => {
        checkpoints.push(progress);
      },
    });
    expect(checkpoints.map((progress) => progress.lastId)).toEqual([b, c]);
    expect(run).toMatchObject({ state: "succeeded", interactions: 3, ruleVerdicts: 3 });
    // No run walked these before: `a` (done by the "crashed" attempt) gets nothing from this one.
    const stored = await testApp.store.collections.feedback
      .find({
        key: "rlaif.rules",
        interactionIds: { $in: [a, b, c].map((id) => new ObjectId(id)) },
      })
      .toArray();
    expect(stored.map((feedback) => feedback.interactionId?.toHexString()).sort()).toEqual(
      [b, c].sort(),
    );
  });

  it("runJudges needs the admin scope", async () => {
    const reader = await testApp.key(["read"]);
    const result = await testApp.gql(RUN, {}, reader);
    expect(result.data?.runJudges.__typename).toBe("ForbiddenError");
  });
});
