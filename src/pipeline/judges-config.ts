/**
 * The `judges` (automated feedback) and `audit` (bias and drift) configuration blocks. Each is one
 * JSON value in an environment variable (`JUDGES_CONFIG`, `AUDIT_CONFIG`), validated here so that
 * `loadConfig` reports its problems together with every other variable's.
 */
import { z } from "zod";
import { ruleChecksSchema } from "./rule-checks.js";

const name = z
  .string()
  .regex(
    /^[A-Za-z][\w.-]{0,31}$/,
    "must start with a letter; at most 32 letters, digits, '_', '.', '-'",
  );

/** A judge's rubric. Its text is fixed per (id, version): changing it requires a new version. */
export const rubricSchema = z
  .object({
    id: name,
    version: z.string().regex(/^[\w.-]{1,16}$/, "at most 16 letters, digits, '_', '.', '-'"),
    instructions: z.string().trim().min(1).max(10_000),
  })
  .strict();

export const DEFAULT_RUBRIC = {
  id: "helpfulness",
  version: "1",
  instructions:
    "Judge whether the answer correctly and completely answers the user's question, stays on topic, is safe, and is well formatted. Score 1 for an answer a careful expert would give, 0 for a wrong, unsafe or useless one. When it fails, name the main failure category.",
} as const;

const openAiJudge = z
  .object({
    type: z.literal("openai"),
    name,
    /** Base URL of an OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1 (vLLM). */
    baseUrl: z.string().url(),
    model: z.string().min(1).max(200),
    /** Name of the environment variable holding the bearer API key (the key stays out of JSON). */
    apiKeyEnv: z
      .string()
      .regex(/^[A-Z_][A-Z0-9_]*$/, "must be an environment variable name")
      .optional(),
    jsonMode: z.boolean().default(false),
    timeoutMs: z.number().int().min(1_000).max(600_000).default(60_000),
  })
  .strict();

const ruleJudge = z
  .object({
    type: z.literal("rules"),
    name: name.default("rules"),
    checks: ruleChecksSchema.default({}),
    /** Also fail answers that share no word with the question. */
    relevance: z.boolean().default(true),
  })
  .strict();

export const judgeSpecSchema = z.discriminatedUnion("type", [openAiJudge, ruleJudge]);
export type JudgeSpec = z.output<typeof judgeSpecSchema>;

export const judgesConfigSchema = z
  .object({
    /** Off: no periodic run (runJudges still works on demand). */
    enabled: z.boolean().default(true),
    /** How often the worker enqueues a run over new interactions. */
    intervalSeconds: z.number().int().min(1).max(86_400).default(300),
    /** Interactions read, judged and checkpointed together. */
    batchSize: z.number().int().min(1).max(1_000).default(100),
    /**
     * Interactions younger than this are left for the next run: ids from several processes are
     * only roughly ordered, and an insert still in flight must not be skipped.
     */
    settleSeconds: z.number().int().min(0).max(3_600).default(60),
    /** Share of interactions the LLM judges score (chosen by a hash of the id: deterministic). */
    sampleRate: z.number().min(0).max(1).default(0.05),
    /** Where the first run starts (ISO time); default: when the first run starts. */
    startFrom: z.string().datetime({ offset: true }).optional(),
    rubric: rubricSchema.default(DEFAULT_RUBRIC),
    /** One judge, or two for cross-validation (both score the same sample). */
    judges: z
      .array(judgeSpecSchema)
      .max(2)
      .default([])
      .refine((judges) => new Set(judges.map((judge) => judge.name)).size === judges.length, {
        message: "judge names must differ",
      }),
    /** Rule checks run on every new interaction (not only the sample); none when omitted. */
    rules: ruleChecksSchema.optional(),
    /**
     * The first judge also categorizes feedback the pipeline's rules leave uncategorized: a call
     * per such feedback, so off unless asked for.
     */
    categorize: z.boolean().default(false),
  })
  .strict()
  .refine((config) => !config.categorize || config.judges.length > 0, {
    message: "categorize needs a judge in judges",
    path: ["categorize"],
  });

export type JudgesConfig = z.output<typeof judgesConfigSchema> & {
  /** API keys resolved from each judge's `apiKeyEnv`, by judge name. */
  readonly apiKeys: Readonly<Record<string, string>>;
};

const segmentPath = z
  .string()
  .regex(
    /^(metadata|settings)\.[\w-]+(\.[\w-]+){0,4}$|^model\.(id|version)$/,
    "must be metadata.<field>, settings.<field> or model.id / model.version",
  );

export const auditConfigSchema = z
  .object({
    /** Interaction fields whose values split users into segments (at most 5). */
    segments: z
      .array(z.object({ name, path: segmentPath }).strict())
      .max(5)
      .default([]),
    /** Values kept per segment field (by volume); the rest are counted as `other`. */
    maxValues: z.number().int().min(1).max(100).default(20),
    /** The interaction field that names its topic. */
    topicPath: segmentPath.default("metadata.topic"),
    /** The live window the refresh job measures. */
    liveWindowHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 90)
      .default(24),
    /** The reference window: this many days before the live window. */
    referenceDays: z.number().int().min(1).max(365).default(28),
    /** Divergence (Jensen–Shannon, 0..1) above which the training data no longer represents traffic. */
    threshold: z.number().min(0).max(1).default(0.1),
    /** How often the worker refreshes the divergence gauges; 0 turns the refresh off. */
    refreshSeconds: z.number().int().min(0).max(86_400).default(3_600),
    /** Feedback read per window at most (the newest); larger windows are sampled down to it. */
    maxFeedback: z.number().int().min(100).max(1_000_000).default(50_000),
  })
  .strict();
export type AuditConfig = z.output<typeof auditConfigSchema>;

/**
 * An optional JSON environment variable validated by `schema` (unset or empty: undefined); each
 * issue is reported with its path inside the JSON.
 */
export function jsonEnv<Schema extends z.ZodType>(schema: Schema) {
  return z.preprocess(
    (value) => (value === "" ? undefined : value),
    z
      .string()
      .transform((text, ctx) => {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          ctx.addIssue({ code: "custom", message: "must be a JSON object" });
          return z.NEVER;
        }
      })
      .pipe(schema)
      .optional(),
  );
}
