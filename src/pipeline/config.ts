import { z } from "zod";
import { failureCategories, feedbackKinds, flagCategories } from "../store/documents.js";

/**
 * A categorization rule: when every condition it names holds, the feedback gets `category`.
 * Rules run in order; the first match wins; positive feedback is never matched against them. Text patterns are case-insensitive regular
 * expressions tested against the feedback's free text (comment, correction, flag or comparison
 * reason).
 */
export const categoryRuleSchema = z
  .object({
    name: z.string().regex(/^[\w.-]{1,64}$/, "letters, digits, _ . - (at most 64)"),
    category: z.enum(failureCategories),
    kinds: z.array(z.enum(feedbackKinds)).optional(),
    sentiment: z.enum(["positive", "negative", "neutral"]).optional(),
    flagCategory: z.enum(flagCategories).optional(),
    keys: z.array(z.string()).optional(),
    text: z
      .string()
      .max(1_000)
      .refine((pattern) => {
        try {
          new RegExp(pattern, "i");
          return true;
        } catch {
          return false;
        }
      }, "is not a valid regular expression")
      .optional(),
  })
  .strict();
export type CategoryRule = z.infer<typeof categoryRuleSchema>;

/**
 * The built-in rules (PIPELINE_CATEGORY_RULES replaces them). Safety first: a safety complaint
 * that also says "wrong" must reach the guardrail, not the fine-tuning queue.
 */
export const defaultCategoryRules: readonly CategoryRule[] = [
  { name: "safety-flag", category: "safety", flagCategory: "safety" },
  {
    name: "safety-text",
    category: "safety",
    text: "\\b(unsafe|harmful|dangerous|toxic|offensive|hateful|self[- ]harm|violent|illegal|jailbreak)",
  },
  {
    name: "feature-request-text",
    category: "feature_request",
    text: "\\b(feature request|please add|would be (nice|great)|it would be great|wish (it|you) could|can you add|could you add|support for)",
  },
  {
    name: "knowledge-gap-text",
    category: "knowledge_gap",
    text: "(did ?n[o']?t know|does ?n[o']?t know|no information|outdated|out of date|missing information|not in the (docs|documentation)|could ?n[o']?t find|does ?n[o']?t cover|no answer)",
  },
  {
    name: "format-text",
    category: "format",
    text: "\\b(format|formatting|markdown|too long|too short|verbose|wall of text|bullet|json|table|layout|typo)",
  },
  {
    name: "relevance-text",
    category: "relevance",
    text: "(irrelevant|off[- ]topic|not what i asked|did ?n[o']?t answer|does ?n[o']?t answer|unrelated|missed the point)",
  },
  { name: "accuracy-flag", category: "accuracy", flagCategory: "accuracy" },
  {
    name: "accuracy-text",
    category: "accuracy",
    text: "\\b(wrong|incorrect|inaccurate|false|hallucinat|not true|untrue|mistake|error)",
  },
  { name: "accuracy-correction", category: "accuracy", kinds: ["correction"] },
];

const defaultBotAgents =
  "bot,crawler,spider,slurp,headlesschrome,phantomjs,scrapy,puppeteer,playwright,selenium";

const rulesFromJson = z
  .string()
  .optional()
  .transform((value, ctx) => {
    if (value === undefined || value.trim() === "") return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of rules" });
      return z.NEVER;
    }
    const rules = z.array(categoryRuleSchema).max(200).safeParse(parsed);
    if (!rules.success) {
      for (const issue of rules.error.issues) {
        ctx.addIssue({ code: "custom", message: `${issue.path.join(".")}: ${issue.message}` });
      }
      return z.NEVER;
    }
    return rules.data;
  });

/** The `pipeline` block of the environment (src/config.ts spreads it into its schema). */
export const pipelineEnv = {
  /** How often a worker looks for feedback the pipeline has not processed. */
  PIPELINE_TICK_MS: z.coerce.number().int().min(100).max(60_000).default(1_000),
  /** Feedback processed per batch (one set of bulk reads and writes). */
  PIPELINE_BATCH_SIZE: z.coerce.number().int().min(1).max(1_000).default(200),
  /** The window of the burst limits below. */
  PIPELINE_BURST_WINDOW_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  /** Feedback one user may give within the window before the rest is filtered; 0: no limit. */
  PIPELINE_USER_BURST_MAX: z.coerce.number().int().min(0).default(20),
  /** Per client address, for feedback sent with browser feedback tokens; 0: no limit. */
  PIPELINE_IP_BURST_MAX: z.coerce.number().int().min(0).default(30),
  /** Per API key; 0 (default): no limit, since a backend's key legitimately sends everything. */
  PIPELINE_KEY_BURST_MAX: z.coerce.number().int().min(0).default(0),
  /** The window of the identical-text limit. */
  PIPELINE_TEXT_FLOOD_WINDOW_SECONDS: z.coerce.number().int().min(1).max(604_800).default(600),
  /** Feedback with the same (normalized, 20+ character) text within the window; 0: no limit. */
  PIPELINE_TEXT_FLOOD_MAX: z.coerce.number().int().min(0).default(5),
  /** Feedback sooner than this after the answer (plus reading time) is impossibly fast. */
  PIPELINE_MIN_READ_MS: z.coerce.number().int().min(0).max(600_000).default(1_000),
  /** Reading speed for the reading time of an answer; 0: only PIPELINE_MIN_READ_MS counts. */
  PIPELINE_READ_CHARS_PER_SECOND: z.coerce.number().min(0).max(100_000).default(100),
  /** Comma-separated case-insensitive user-agent substrings of bots. */
  PIPELINE_BOT_USER_AGENTS: z
    .string()
    .default(defaultBotAgents)
    .transform((value) =>
      value
        .split(",")
        .map((part) => part.trim().toLowerCase())
        .filter(Boolean),
    ),
  /** Take the client address from X-Forwarded-For (only behind a proxy you trust). */
  PIPELINE_TRUST_FORWARDED_FOR: z
    .enum(["true", "false", "1", "0", "yes", "no"])
    .default("false")
    .transform((value) => value === "true" || value === "1" || value === "yes"),
  /** Distinct raters an answer needs before its majority counts as consensus. */
  PIPELINE_CONSENSUS_MIN_RATERS: z.coerce.number().int().min(2).max(1_000).default(3),
  /** Categorized feedback scored below this goes to expert review. */
  PIPELINE_REVIEW_QUALITY_BELOW: z.coerce.number().min(0).max(1).default(0.3),
  /** Accuracy reports in one group before they become fine-tuning data (else expert review). */
  PIPELINE_FINE_TUNING_MIN_FREQUENCY: z.coerce.number().int().min(1).max(1_000_000).default(3),
  /** JSON array of categorization rules replacing the built-in ones (README). */
  PIPELINE_CATEGORY_RULES: rulesFromJson,
  /** Where guardrail events are POSTed; unset: no webhook (the metric still counts). */
  PIPELINE_GUARDRAIL_WEBHOOK_URL: z
    .string()
    .url()
    .regex(/^https?:\/\//, "must be an http(s) URL")
    .optional()
    .or(z.literal("").transform(() => undefined)),
  /** HMAC-SHA256 key of the webhook's signature; required with the URL. */
  PIPELINE_GUARDRAIL_WEBHOOK_SECRET: z
    .string()
    .min(32, "must be at least 32 characters")
    .optional()
    .or(z.literal("").transform(() => undefined)),
};

const pipelineSchema = z.object(pipelineEnv);
type PipelineEnv = z.output<typeof pipelineSchema>;

export interface PipelineConfig {
  readonly tickMs: number;
  readonly batchSize: number;
  readonly burstWindowMs: number;
  readonly userBurstMax: number;
  readonly ipBurstMax: number;
  readonly keyBurstMax: number;
  readonly textFloodWindowMs: number;
  readonly textFloodMax: number;
  readonly minReadMs: number;
  readonly readCharsPerSecond: number;
  readonly botUserAgents: readonly string[];
  readonly trustForwardedFor: boolean;
  readonly consensusMinRaters: number;
  readonly reviewQualityBelow: number;
  readonly fineTuningMinFrequency: number;
  readonly categoryRules: readonly CategoryRule[];
  readonly guardrailWebhook: { readonly url: string; readonly secret: string } | undefined;
}

/** Problems that involve two variables, reported with the others. */
export function pipelineConfigProblems(
  env: Readonly<Record<string, string | undefined>>,
): string[] {
  return env.PIPELINE_GUARDRAIL_WEBHOOK_URL && !env.PIPELINE_GUARDRAIL_WEBHOOK_SECRET
    ? ["PIPELINE_GUARDRAIL_WEBHOOK_SECRET: is required when PIPELINE_GUARDRAIL_WEBHOOK_URL is set"]
    : [];
}

export function pipelineConfig(env: PipelineEnv): PipelineConfig {
  return {
    tickMs: env.PIPELINE_TICK_MS,
    batchSize: env.PIPELINE_BATCH_SIZE,
    burstWindowMs: env.PIPELINE_BURST_WINDOW_SECONDS * 1_000,
    userBurstMax: env.PIPELINE_USER_BURST_MAX,
    ipBurstMax: env.PIPELINE_IP_BURST_MAX,
    keyBurstMax: env.PIPELINE_KEY_BURST_MAX,
    textFloodWindowMs: env.PIPELINE_TEXT_FLOOD_WINDOW_SECONDS * 1_000,
    textFloodMax: env.PIPELINE_TEXT_FLOOD_MAX,
    minReadMs: env.PIPELINE_MIN_READ_MS,
    readCharsPerSecond: env.PIPELINE_READ_CHARS_PER_SECOND,
    botUserAgents: env.PIPELINE_BOT_USER_AGENTS,
    trustForwardedFor: env.PIPELINE_TRUST_FORWARDED_FOR,
    consensusMinRaters: env.PIPELINE_CONSENSUS_MIN_RATERS,
    reviewQualityBelow: env.PIPELINE_REVIEW_QUALITY_BELOW,
    fineTuningMinFrequency: env.PIPELINE_FINE_TUNING_MIN_FREQUENCY,
    categoryRules: env.PIPELINE_CATEGORY_RULES ?? defaultCategoryRules,
    guardrailWebhook:
      env.PIPELINE_GUARDRAIL_WEBHOOK_URL && env.PIPELINE_GUARDRAIL_WEBHOOK_SECRET
        ? { url: env.PIPELINE_GUARDRAIL_WEBHOOK_URL, secret: env.PIPELINE_GUARDRAIL_WEBHOOK_SECRET }
        : undefined,
  };
}
