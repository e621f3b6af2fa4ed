import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { HttpStatusError } from "../../src/integrations/http.js";
import {
  createOpenAiCompatibleJudge,
  createRuleJudge,
  JudgeOutputError,
  type JudgeRubric,
  parseVerdict,
} from "../../src/pipeline/judge.js";
import { createJudgeCategorizer } from "../../src/pipeline/judge-categorizer.js";
import type { FeedbackDoc, InteractionDoc } from "../../src/store/documents.js";

const rubric: JudgeRubric = {
  id: "helpfulness",
  version: "3",
  instructions: "Score how well the answer solves the user's problem.",
};

/** A fake chat-completions server: answers are queued per test; requests are recorded. */
interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  // biome-ignore lint/suspicious/noExplicitAny: the recorded JSON body is probed field by field
  body: any;
}
type Answer = { status: number; body: unknown; headers?: Record<string, string> };

let server: Server;
let baseUrl = "";
let answers: Answer[] = [];
let requests: Recorded[] = [];

const completion = (content: string): Answer => ({
  status: 200,
  body: {
    id: "x",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content } }],
  },
});

beforeAll(async () => {
  server = createServer((request, response) => {
    let text = "";
    request.on("data", (chunk) => {
      text += chunk;
    });
    request.on("end", () => {
      requests.push({
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: JSON.parse(text || "null"),
      });
      const answer = answers.shift() ?? { status: 500, body: { error: "no answer queued" } };
      response.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      response.end(JSON.stringify(answer.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
beforeEach(() => {
  answers = [];
  requests = [];
});

const judgeWith = (options: { apiKey?: string; jsonMode?: boolean } = {}) =>
  createOpenAiCompatibleJudge({
    name: "fake-llm",
    baseUrl,
    model: "judge-model-7b",
    ...options,
    timeoutMs: 2_000,
    http: { retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } },
  });

const request = {
  query: "How do I reset my password?",
  response: "Settings > Security > Reset.",
  rubric,
};

describe("OpenAI-compatible judge", () => {
  it("posts a chat completion at temperature 0 with the rubric, the model and the bearer key", async () => {
    answers.push(
      completion(
        '{"score": 0.8, "passed": true, "category": null, "reasoning": "Direct answer.", "rubric": {"id": "helpfulness", "version": "3"}}',
      ),
    );
    const verdict = await judgeWith({ apiKey: "sk-test-123", jsonMode: true }).evaluate(request);
    expect(verdict).toEqual({
      score: 0.8,
      passed: true,
      category: null,
      reasoning: "Direct answer.",
      judge: "fake-llm",
      rubric: { id: "helpfulness", version: "3" },
    });
    expect(requests).toHaveLength(1);
    const [sent] = requests;
    expect(sent?.method).toBe("POST");
    expect(sent?.url).toBe("/v1/chat/completions");
    expect(sent?.headers.authorization).toBe("Bearer sk-test-123");
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(sent?.body.model).toBe("judge-model-7b");
    expect(sent?.body.temperature).toBe(0);
    expect(sent?.body.response_format).toEqual({ type: "json_object" });
    expect(sent?.body.messages[0].role).toBe("system");
    expect(sent?.body.messages[0].content).toContain("Rubric helpfulness version 3");
    expect(sent?.body.messages[0].content).toContain(rubric.instructions);
    expect(sent?.body.messages[1].content).toContain("How do I reset my password?");
    expect(sent?.body.messages[1].content).toContain("Settings > Security > Reset.");
  });

  it("sends no Authorization header without a key and no response_format unless asked", async () => {
    answers.push(completion('{"score": 0.1, "category": "accuracy", "reasoning": "Wrong menu."}'));
    const verdict = await judgeWith().evaluate(request);
    expect(requests[0]?.headers.authorization).toBeUndefined();
    expect(requests[0]?.body.response_format).toBeUndefined();
    // passed defaults to score >= 0.5
    expect(verdict).toMatchObject({ score: 0.1, passed: false, category: "accuracy" });
  });

  it("reads JSON wrapped in prose or a code fence", async () => {
    answers.push(
      completion(
        'Here is my verdict:\n```json\n{"score": 1, "passed": true, "category": "none", "reasoning": "ok {fine}"}\n```',
      ),
    );
    const verdict = await judgeWith().evaluate(request);
    expect(verdict).toMatchObject({
      score: 1,
      passed: true,
      category: null,
      reasoning: "ok {fine}",
    });
  });

  it("refuses malformed answers with a typed error", async () => {
    const bad = [
      "I think it is good.",
      '{"score": 7, "reasoning": "out of range"}',
      '{"score": 0.5, "category": "vibes", "reasoning": "unknown category"}',
      '{"score": "high"}',
      '{"score": 0.5, "rubric": {"id": "helpfulness", "version": "2"}}',
      '{"score": 0.5, "reasoning": "unterminated"',
    ];
    for (const content of bad) {
      answers.push(completion(content));
      const error = await judgeWith()
        .evaluate(request)
        .catch((caught: unknown) => caught);
      expect(error, content).toBeInstanceOf(JudgeOutputError);
      expect((error as JudgeOutputError).code).toBe("JUDGE_MALFORMED_OUTPUT");
    }
    answers.push({ status: 200, body: { choices: [] } });
    await expect(judgeWith().evaluate(request)).rejects.toBeInstanceOf(JudgeOutputError);
    // Each malformed answer was asked once: refusing is not retrying.
    expect(requests).toHaveLength(bad.length + 1);
  });

  it("retries 429 (honouring Retry-After) and 5xx, then answers", async () => {
    answers.push({ status: 429, body: { error: "slow down" }, headers: { "retry-after": "0" } });
    answers.push({ status: 503, body: { error: "loading model" } });
    answers.push(completion('{"score": 0.6, "reasoning": "fine"}'));
    const verdict = await judgeWith().evaluate(request);
    expect(verdict.score).toBe(0.6);
    expect(requests).toHaveLength(3);
  });

  it("gives up after the retry budget with the HTTP status", async () => {
    for (let i = 0; i < 3; i++) answers.push({ status: 502, body: { error: "bad gateway" } });
    const error = await judgeWith()
      .evaluate(request)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpStatusError);
    expect((error as HttpStatusError).status).toBe(502);
    expect(requests).toHaveLength(3);
  });

  it("does not retry a 400 (the request is wrong)", async () => {
    answers.push({ status: 400, body: { error: "response_format not supported" } });
    await expect(judgeWith({ jsonMode: true }).evaluate(request)).rejects.toBeInstanceOf(
      HttpStatusError,
    );
    expect(requests).toHaveLength(1);
  });
});

describe("parseVerdict", () => {
  it("keeps the asked rubric and cuts long reasoning", () => {
    const verdict = parseVerdict(
      JSON.stringify({ score: 0, reasoning: "x".repeat(5_000) }),
      rubric,
      "j",
    );
    expect(verdict.rubric).toEqual({ id: "helpfulness", version: "3" });
    expect(verdict.reasoning).toHaveLength(2_000);
    expect(verdict.passed).toBe(false);
  });
});

describe("rule judge", () => {
  const judge = createRuleJudge({
    name: "house-rules",
    checks: {
      format: {},
      length: { minChars: 10, maxChars: 200 },
      banned: ["\\bkill\\b"],
      citations: { when: "^source" },
    },
  });

  it("passes a good answer with score 1", async () => {
    expect(await judge.evaluate(request)).toEqual({
      score: 1,
      passed: true,
      category: null,
      reasoning: "all 4 checks passed",
      judge: "house-rules",
      rubric: { id: "helpfulness", version: "3" },
    });
  });

  it("names the first failed check's category and is deterministic", async () => {
    const bad = { ...request, response: "kill it" };
    const first = await judge.evaluate(bad);
    expect(first.passed).toBe(false);
    expect(first.category).toBe("format"); // too short comes before banned content
    expect(first.score).toBeCloseTo(1 / 4);
    expect(first.reasoning).toContain("length");
    expect(first.reasoning).toContain("banned");
    expect(await judge.evaluate(bad)).toEqual(first);
  });

  it("checks citations only where asked and relevance by shared words", async () => {
    const cited = await judge.evaluate({
      ...request,
      query: "source for the password reset?",
      response: "Reset password in Settings.",
    });
    expect(cited).toMatchObject({ passed: false, category: "accuracy" });
    const offTopic = await judge.evaluate({ ...request, response: "Bananas are yellow fruit." });
    expect(offTopic).toMatchObject({ passed: false, category: "relevance" });
  });
});

describe("judge categorizer", () => {
  const interaction = { query: "Capital of Australia?", response: "Sydney." } as InteractionDoc;
  const feedback = { comment: "wrong city" } as FeedbackDoc;

  it("takes the judge's category and says which judge", async () => {
    answers.push(completion('{"score": 0, "category": "accuracy", "reasoning": "Canberra."}'));
    const categorize = createJudgeCategorizer(judgeWith(), rubric);
    expect(await categorize({ feedback, interaction })).toEqual({
      category: "accuracy",
      by: "judge:fake-llm",
    });
    expect(requests[0]?.body.messages[0].content).toContain("wrong city");
  });

  it("returns null without an interaction or a category", async () => {
    const categorize = createJudgeCategorizer(judgeWith(), rubric);
    expect(await categorize({ feedback, interaction: null })).toBeNull();
    answers.push(completion('{"score": 0.9, "category": null, "reasoning": "fine"}'));
    expect(await categorize({ feedback, interaction })).toBeNull();
  });
});
