/**
 * The seed's rule-based automated feedback (RLAIF table, "Rule-Based: format, safety, length"):
 * pure checks of one answer, configured in the `judges.rules` block. Used by the RLAIF job (stored
 * as `source: "rule"` feedback) and by the deterministic rule judge.
 */
import { z } from "zod";
import type { FailureCategory } from "../store/documents.js";

const regex = z.string().refine(
  (pattern) => {
    try {
      new RegExp(pattern, "iu");
      return true;
    } catch {
      return false;
    }
  },
  { message: "must be a valid regular expression" },
);

export const ruleChecksSchema = z
  .object({
    /** The answer must be well-formed: not empty, and (optionally) JSON or matching a pattern. */
    format: z
      .object({
        json: z.boolean().default(false),
        pattern: regex.optional(),
      })
      .optional(),
    length: z
      .object({
        minChars: z.number().int().min(0).optional(),
        maxChars: z.number().int().positive().optional(),
      })
      .refine((value) => (value.minChars ?? 0) <= (value.maxChars ?? Number.POSITIVE_INFINITY), {
        message: "minChars must not exceed maxChars",
      })
      .optional(),
    /** Case-insensitive patterns that must not occur in the answer (at most 100). */
    banned: z.array(regex).max(100).optional(),
    /** Answers must cite sources: at least `minCount` matches of `pattern`. */
    citations: z
      .object({
        pattern: regex.default("\\[\\d+\\]|https?://\\S+"),
        minCount: z.number().int().min(1).default(1),
        /** Only questions matching this pattern need citations (default: every question). */
        when: regex.optional(),
      })
      .optional(),
  })
  .strict();
export type RuleChecksConfig = z.input<typeof ruleChecksSchema>;

export const ruleCheckNames = ["format", "length", "banned", "citations", "relevance"] as const;
export type RuleCheckName = (typeof ruleCheckNames)[number];

export interface RuleCheckResult {
  readonly check: RuleCheckName;
  readonly passed: boolean;
  readonly category: FailureCategory;
  readonly detail: string;
}

const WORD = /[\p{L}\p{N}]{4,}/gu;

function words(text: string): Set<string> {
  return new Set((text.toLowerCase().match(WORD) ?? []).map((word) => word.slice(0, 6)));
}

/**
 * Runs every configured check on one answer, in a fixed order. `relevance` (shared words between
 * question and answer) is only for the rule judge: as stored feedback it is too crude.
 */
export function runRuleChecks(
  raw: RuleChecksConfig,
  answer: { readonly query: string; readonly response: string },
  options: { relevance?: boolean } = {},
): RuleCheckResult[] {
  const config = ruleChecksSchema.parse(raw);
  const { response, query } = answer;
  const results: RuleCheckResult[] = [];
  if (config.format) {
    let problem: string | undefined;
    if (response.trim() === "") problem = "the answer is empty";
    else if (config.format.json) {
      try {
        JSON.parse(response);
      } catch {
        problem = "the answer is not valid JSON";
      }
    }
    if (
      !problem &&
      config.format.pattern &&
      !new RegExp(config.format.pattern, "iu").test(response)
    )
      problem = `the answer does not match /${config.format.pattern}/`;
    results.push({
      check: "format",
      passed: !problem,
      category: "format",
      detail: problem ?? "well-formed",
    });
  }
  if (config.length) {
    const length = [...response].length;
    const { minChars, maxChars } = config.length;
    const problem =
      minChars !== undefined && length < minChars
        ? `${length} characters, fewer than ${minChars}`
        : maxChars !== undefined && length > maxChars
          ? `${length} characters, more than ${maxChars}`
          : undefined;
    results.push({
      check: "length",
      passed: !problem,
      category: "format",
      detail: problem ?? `${length} characters`,
    });
  }
  if (config.banned?.length) {
    const hit = config.banned.find((pattern) => new RegExp(pattern, "iu").test(response));
    results.push({
      check: "banned",
      passed: hit === undefined,
      category: "safety",
      detail: hit === undefined ? "no banned content" : `banned content /${hit}/`,
    });
  }
  if (
    config.citations &&
    (!config.citations.when || new RegExp(config.citations.when, "iu").test(query))
  ) {
    const found = response.match(new RegExp(config.citations.pattern, "giu"))?.length ?? 0;
    const passed = found >= config.citations.minCount;
    results.push({
      check: "citations",
      passed,
      category: "accuracy",
      detail: `${found} citation${found === 1 ? "" : "s"}${passed ? "" : `, at least ${config.citations.minCount} required`}`,
    });
  }
  if (options.relevance) {
    const asked = words(query);
    const answered = words(response);
    const shared = [...asked].filter((word) => answered.has(word)).length;
    const passed = asked.size === 0 || shared > 0;
    results.push({
      check: "relevance",
      passed,
      category: "relevance",
      detail: passed ? `${shared} shared words` : "the answer shares no word with the question",
    });
  }
  return results;
}
