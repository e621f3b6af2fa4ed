/**
 * The LLM judge behind one interface (CONTRACTS §3), with two adapters:
 *   - `createOpenAiCompatibleJudge`: any chat-completions endpoint (vLLM, Ollama, a hosted API),
 *     through the one outbound HTTP client (timeouts, retries, Retry-After, circuit breaker);
 *   - `createRuleJudge`: deterministic checks, for tests and for teams without an LLM.
 * A verdict always names the judge and the rubric id + version it was given, so stored verdicts
 * say which rubric text produced them.
 */
import { z } from "zod";
import { createHttpClient, type HttpClientOptions } from "../integrations/http.js";
import { type FailureCategory, failureCategories } from "../store/documents.js";
import { type RuleChecksConfig, runRuleChecks } from "./rule-checks.js";

export interface JudgeRubric {
  readonly id: string;
  readonly version: string;
  readonly instructions: string;
}

export interface JudgeRequest {
  readonly query: string;
  readonly response: string;
  readonly messages?: ReadonlyArray<{ role: string; content: string }>;
  readonly rubric: JudgeRubric;
}

export interface JudgeVerdict {
  /** 0..1 */
  readonly score: number;
  readonly passed: boolean;
  readonly category: FailureCategory | null;
  readonly reasoning: string;
  readonly judge: string;
  readonly rubric: { id: string; version: string };
}

export interface Judge {
  readonly name: string;
  evaluate(request: JudgeRequest, signal?: AbortSignal): Promise<JudgeVerdict>;
}

/** The judge answered, but not with a verdict we can trust: nothing is stored for it. */
export class JudgeOutputError extends Error {
  readonly code = "JUDGE_MALFORMED_OUTPUT";
  constructor(
    readonly judge: string,
    message: string,
    /** The offending output, truncated to 2 KiB. */
    readonly output: string,
  ) {
    super(`judge ${judge}: ${message}`);
    this.name = "JudgeOutputError";
  }
}

/** Longest reasoning kept from a judge (longer text is cut). */
export const MAX_REASONING = 2_000;

const verdictShape = z.object({
  score: z.number().finite().min(0).max(1),
  passed: z.boolean().optional(),
  category: z
    .union([z.enum(failureCategories), z.literal("none"), z.null()])
    .optional()
    .transform((value) => (value === "none" || value === undefined ? null : value)),
  reasoning: z.string().default(""),
  rubric: z.object({ id: z.string(), version: z.string() }).partial().optional(),
});

/** The first balanced JSON object in `text` (models wrap JSON in prose or code fences). */
function firstJsonObject(text: string): string | undefined {
  const start = text.indexOf("{");
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let index = start; index < text.length; index++) {
    const char = text[index];
    if (inString) {
      if (escaped) escaped = false;
      else if (char === "\\") escaped = true;
      else if (char === '"') inString = false;
    } else if (char === '"') inString = true;
    else if (char === "{") depth += 1;
    else if (char === "}") {
      depth -= 1;
      if (depth === 0) return text.slice(start, index + 1);
    }
  }
  return undefined;
}

/**
 * Reads a verdict from a model's answer. Accepts bare JSON, JSON in a code fence or after prose;
 * refuses (JudgeOutputError) anything without a JSON object, a score outside 0..1, an unknown
 * category, or a rubric other than the one asked for.
 */
export function parseVerdict(text: string, rubric: JudgeRubric, judge: string): JudgeVerdict {
  const output = text.slice(0, 2_048);
  const candidate = firstJsonObject(text);
  if (!candidate) throw new JudgeOutputError(judge, "the answer holds no JSON object", output);
  let json: unknown;
  try {
    json = JSON.parse(candidate);
  } catch {
    throw new JudgeOutputError(judge, "the answer's JSON does not parse", output);
  }
  const parsed = verdictShape.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "(verdict)"}: ${issue.message}`,
    );
    throw new JudgeOutputError(judge, `malformed verdict (${problems.join("; ")})`, output);
  }
  const verdict = parsed.data;
  if (
    (verdict.rubric?.id !== undefined && verdict.rubric.id !== rubric.id) ||
    (verdict.rubric?.version !== undefined && verdict.rubric.version !== rubric.version)
  ) {
    throw new JudgeOutputError(
      judge,
      `the verdict names rubric ${verdict.rubric?.id}@${verdict.rubric?.version}, not ${rubric.id}@${rubric.version}`,
      output,
    );
  }
  return {
    score: verdict.score,
    passed: verdict.passed ?? verdict.score >= 0.5,
    category: verdict.category,
    reasoning: verdict.reasoning.slice(0, MAX_REASONING),
    judge,
    rubric: { id: rubric.id, version: rubric.version },
  };
}

/** The system prompt: the rubric (with its id and version) and the exact answer format. */
export function judgePrompt(rubric: JudgeRubric): string {
  return [
    "You are an impartial evaluator of an AI assistant's answer.",
    `Rubric ${rubric.id} version ${rubric.version}:`,
    rubric.instructions,
    "",
    "Answer with one JSON object and nothing else:",
    `{"score": <number from 0 to 1>, "passed": <true|false>, "category": <one of ${failureCategories
      .map((category) => `"${category}"`)
      .join(", ")} or null when nothing failed>, "reasoning": "<one or two sentences>", ` +
      `"rubric": {"id": "${rubric.id}", "version": "${rubric.version}"}}`,
  ].join("\n");
}

function conversation(request: JudgeRequest): string {
  const history = request.messages?.length
    ? request.messages.map((message) => `[${message.role}] ${message.content}`).join("\n")
    : `[user] ${request.query}`;
  return `Conversation:\n${history}\n\nAnswer to evaluate:\n${request.response}`;
}

export interface OpenAiCompatibleJudgeOptions {
  /** The judge's name in verdicts and feedback (e.g. `gpt-4o-mini`, `vllm-llama`). */
  readonly name: string;
  /** e.g. `http://127.0.0.1:8000/v1` (vLLM), `http://127.0.0.1:11434/v1` (Ollama). */
  readonly baseUrl: string;
  readonly model: string;
  /** Sent as `Authorization: Bearer …` when set. */
  readonly apiKey?: string | undefined;
  /** Ask for `response_format: {type: "json_object"}` (servers that do not support it refuse). */
  readonly jsonMode?: boolean;
  readonly timeoutMs?: number;
  /** Passed to the HTTP client (tests shorten the backoff). */
  readonly http?: Pick<HttpClientOptions, "retry" | "breaker" | "sleep" | "clock" | "metrics">;
}

const completionShape = z.object({
  choices: z
    .array(z.object({ message: z.object({ content: z.string().nullable() }) }))
    .min(1, "no choices"),
});

/** A judge over `POST {baseUrl}/chat/completions` at temperature 0. */
export function createOpenAiCompatibleJudge(options: OpenAiCompatibleJudgeOptions): Judge {
  const client = createHttpClient({
    integration: `judge:${options.name}`,
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs ?? 60_000,
    headers: (): Record<string, string> =>
      options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {},
    ...options.http,
  });
  return {
    name: options.name,
    async evaluate(request, signal) {
      const response = await client.request<unknown>({
        method: "POST",
        path: "/chat/completions",
        // Judging has no side effect on the server: repeating it after a 5xx is safe.
        idempotent: true,
        json: {
          model: options.model,
          temperature: 0,
          messages: [
            { role: "system", content: judgePrompt(request.rubric) },
            { role: "user", content: conversation(request) },
          ],
          ...(options.jsonMode ? { response_format: { type: "json_object" } } : {}),
        },
        ...(signal ? { signal } : {}),
      });
      const completion = completionShape.safeParse(response.body);
      if (!completion.success) {
        throw new JudgeOutputError(
          options.name,
          "the endpoint's answer is not a chat completion",
          JSON.stringify(response.body ?? null).slice(0, 2_048),
        );
      }
      const content = completion.data.choices[0]?.message.content ?? "";
      return parseVerdict(content, request.rubric, options.name);
    },
  };
}

/**
 * A deterministic judge: the configured rule checks (format, length, banned content, citations)
 * plus a relevance check (the answer shares words with the question). Score = share of checks
 * passed; the category is the first failed check's.
 */
export function createRuleJudge(
  options: {
    name?: string;
    checks?: RuleChecksConfig;
    /** Also fail answers that share no word with the question (default true). */
    relevance?: boolean;
  } = {},
): Judge {
  const name = options.name ?? "rules";
  return {
    name,
    async evaluate(request) {
      const results = runRuleChecks(options.checks ?? {}, request, {
        relevance: options.relevance ?? true,
      });
      const failed = results.filter((result) => !result.passed);
      const score = results.length === 0 ? 1 : (results.length - failed.length) / results.length;
      return {
        score,
        passed: failed.length === 0,
        category: failed[0]?.category ?? null,
        reasoning:
          failed.length === 0
            ? `all ${results.length} checks passed`
            : failed.map((result) => `${result.check}: ${result.detail}`).join("; "),
        judge: name,
        rubric: { id: request.rubric.id, version: request.rubric.version },
      };
    },
  };
}
