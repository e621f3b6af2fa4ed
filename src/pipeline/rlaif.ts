/**
 * Automated feedback (the seed's RLAIF table): rule checks on every new interaction and judge
 * scores on a deterministic sample, stored as ordinary feedback through the ingest service.
 *
 * Layers, outside-in:
 *   job       — `rlaif.judge`, keyed, enqueued by a periodic tick (or `runJudges`); never on the
 *               write path of recordInteraction
 *   walk      — interactions by `_id` after the stored watermark, in batches, each batch
 *               checkpointed; ids younger than `settleSeconds` wait for the next run
 *   verdicts  — per interaction: the rule checks (source `rule`), then each judge on the sampled
 *               ones (source `llm_judge`), under system actors; the idempotency key (interaction,
 *               judge, rubric version) makes reruns and resumed batches store nothing twice
 *   agreement — two judges on the same sample: Cohen's κ and percent agreement on pass/fail
 */
import { createHash } from "node:crypto";
import { ObjectId } from "mongodb";
import { systemActor } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import { ConflictError, NotFoundError, ValidationError } from "../errors.js";
import type { FeedbackIngestService } from "../feedback/ingest.js";
import type { FeedbackKeyService } from "../feedback/keys.js";
import { HttpError } from "../integrations/http.js";
import type { FailureCategory, FeedbackDoc, InteractionDoc } from "../store/documents.js";
import type { CrossValidationCounts, JudgeRunDoc } from "../store/judge-docs.js";
import type { Collections } from "../store/mongo.js";
import { cohensKappa } from "./agreement.js";
import {
  createOpenAiCompatibleJudge,
  createRuleJudge,
  type Judge,
  JudgeOutputError,
  type JudgeRubric,
  type JudgeVerdict,
} from "./judge.js";
import type { JudgeSpec, JudgesConfig } from "./judges-config.js";
import { runRuleChecks } from "./rule-checks.js";

export const RLAIF_JOB = "rlaif.judge";
/** Binary feedback key of the rule checks (positive = every check passed). */
export const RULES_KEY = "rlaif.rules";
/** Rating key (0..1) of a rubric's judge scores. */
export const judgeKey = (rubricId: string) => `rlaif.${rubricId}`;

/** Who automated feedback is submitted as (audit fields record these names). */
export const judgeActor = systemActor("llm-judge");
export const ruleActor = systemActor("rule-checks");

const WATERMARK_ID = "rlaif";
const MAX_FAILURES_KEPT = 20;
/** Stored verdicts read at most for an agreement figure (the newest). */
export const MAX_AGREEMENT_VERDICTS = 20_000;
/** A judge pair agreeing on pass/fail this rarely or less is flagged (the seed's 80% rule). */
export const AGREEMENT_THRESHOLD = 0.8;

/**
 * Whether an interaction is in the judged sample: a hash of its id against the rate. The same id
 * always gets the same answer, and raising the rate keeps every item sampled before.
 */
export function sampled(id: ObjectId, rate: number): boolean {
  if (rate <= 0) return false;
  if (rate >= 1) return true;
  const digest = createHash("sha256").update(id.toHexString()).digest();
  return digest.readUInt32BE(0) / 2 ** 32 < rate;
}

/** The judges a configuration declares, in order (the second one cross-validates the first). */
export function buildJudges(config: JudgesConfig): Array<{ judge: Judge; spec: JudgeSpec }> {
  return config.judges.map((spec) => ({
    spec,
    judge:
      spec.type === "openai"
        ? createOpenAiCompatibleJudge({
            name: spec.name,
            baseUrl: spec.baseUrl,
            model: spec.model,
            apiKey: config.apiKeys[spec.name],
            jsonMode: spec.jsonMode,
            timeoutMs: spec.timeoutMs,
          })
        : createRuleJudge({ name: spec.name, checks: spec.checks, relevance: spec.relevance }),
  }));
}

export interface AgreementFigure {
  readonly judges: readonly [string, string];
  readonly rubric: { readonly id: string; readonly version: string };
  /** Interactions both judges scored. */
  readonly items: number;
  /** Cohen's κ on pass/fail; null when undefined (no items, or both judges always agree by construction). */
  readonly kappa: number | null;
  /** Share of items on which both judges passed or both failed the answer. */
  readonly percentAgreement: number | null;
  /** Share of items on which both named the same failure category (or none). */
  readonly categoryAgreement: number | null;
  /** percentAgreement at or below 80%: the judges do not agree enough to trust either alone. */
  readonly flagged: boolean;
}

/** κ and percent agreement from pass/fail counts. */
export function agreementOf(
  counts: CrossValidationCounts,
  rubric: { id: string; version: string },
): AgreementFigure {
  const pairs: Array<[boolean, boolean]> = [
    ...Array.from({ length: counts.bothPassed }, (): [boolean, boolean] => [true, true]),
    ...Array.from({ length: counts.firstOnly }, (): [boolean, boolean] => [true, false]),
    ...Array.from({ length: counts.secondOnly }, (): [boolean, boolean] => [false, true]),
    ...Array.from({ length: counts.neitherPassed }, (): [boolean, boolean] => [false, false]),
  ];
  const items = pairs.length;
  const percent = items === 0 ? null : (counts.bothPassed + counts.neitherPassed) / items;
  return {
    judges: counts.judges,
    rubric,
    items,
    kappa: cohensKappa(pairs)?.kappa ?? null,
    percentAgreement: percent,
    categoryAgreement: items === 0 ? null : counts.sameCategory / items,
    flagged: percent !== null && percent <= AGREEMENT_THRESHOLD,
  };
}

function emptyCounts(judges: [string, string]): CrossValidationCounts {
  return { judges, bothPassed: 0, firstOnly: 0, secondOnly: 0, neitherPassed: 0, sameCategory: 0 };
}

function tally(
  counts: CrossValidationCounts,
  first: { passed: boolean; category: FailureCategory | null },
  second: { passed: boolean; category: FailureCategory | null },
) {
  if (first.passed && second.passed) counts.bothPassed += 1;
  else if (first.passed) counts.firstOnly += 1;
  else if (second.passed) counts.secondOnly += 1;
  else counts.neitherPassed += 1;
  if (first.category === second.category) counts.sameCategory += 1;
}

export interface RlaifRunContext {
  /** The run's id (the job's id): a resumed job continues the same run. */
  readonly runId: ObjectId;
  readonly signal: AbortSignal;
  /** The last checkpoint of an earlier attempt. */
  readonly progress: Record<string, unknown> | null;
  checkpoint(progress: Record<string, unknown>): Promise<void>;
}

export interface RlaifService {
  /** Undefined when JUDGES_CONFIG is unset: runs are refused. */
  readonly config: JudgesConfig | undefined;
  /** One run over interactions newer than the watermark (the job's handler). */
  run(context: RlaifRunContext): Promise<JudgeRunDoc>;
  /** Runs, newest first. */
  runs(limit: number): Promise<JudgeRunDoc[]>;
  /**
   * Agreement of the two configured judges over their stored verdicts on one rubric version
   * (default: the configured rubric), the newest MAX_AGREEMENT_VERDICTS verdicts.
   */
  agreement(rubric?: { id: string; version: string }): Promise<AgreementFigure | null>;
}

type Totals = Pick<
  JudgeRunDoc,
  "interactions" | "sampled" | "ruleVerdicts" | "judgeVerdicts" | "alreadyJudged" | "failureCount"
>;

type Outcome = { passed: boolean; category: FailureCategory | null };

/** What a stored verdict said, read back so a rerun still counts it for agreement. */
function storedOutcome(feedback: FeedbackDoc): Outcome {
  const passed = feedback.metadata?.passed;
  return {
    passed: typeof passed === "boolean" ? passed : feedback.sentiment !== "negative",
    category: feedback.category ?? null,
  };
}

export function createRlaifService(deps: {
  collections: Pick<
    Collections,
    "interactions" | "feedback" | "judgeRuns" | "judgeRubrics" | "judgeWatermarks"
  >;
  feedback: FeedbackIngestService;
  keys: FeedbackKeyService;
  clock: Clock;
  config: JudgesConfig | undefined;
  /** Judges to use instead of the configured ones (tests inject fakes of the HTTP endpoint). */
  judges?: Array<{ judge: Judge; spec: JudgeSpec }>;
}): RlaifService {
  const { collections, clock, config } = deps;
  const judges = deps.judges ?? (config ? buildJudges(config) : []);

  const requireConfig = (): JudgesConfig => {
    if (!config) {
      throw new ValidationError([
        {
          path: "JUDGES_CONFIG",
          message: "automated feedback is not configured (set JUDGES_CONFIG)",
        },
      ]);
    }
    return config;
  };

  /** A rubric's text is fixed per version: the first text used is kept, another one refused. */
  const pinRubric = async (rubric: JudgeRubric) => {
    const hash = createHash("sha256").update(rubric.instructions).digest("hex");
    const _id = `${rubric.id}:${rubric.version}`;
    await collections.judgeRubrics.updateOne(
      { _id },
      {
        $setOnInsert: {
          id: rubric.id,
          version: rubric.version,
          instructions: rubric.instructions,
          hash,
          firstUsedAt: clock.now(),
        },
      },
      { upsert: true },
    );
    const pinned = await collections.judgeRubrics.findOne({ _id });
    if (pinned && pinned.hash !== hash) {
      throw new ConflictError(
        `rubric ${rubric.id} version ${rubric.version} was first used with other instructions; changing a rubric's text requires a new version`,
      );
    }
  };

  /** The keys verdicts are stored under, declared so ratings are 0..1 and validated. */
  const declareKeys = async (rubric: JudgeRubric, withRules: boolean) => {
    const wanted = [
      {
        key: judgeKey(rubric.id),
        kind: "rating" as const,
        rating: { min: 0, max: 1, integer: false },
        description: `Automated judge scores (0..1) on rubric ${rubric.id}.`,
      },
      ...(withRules
        ? [
            {
              key: RULES_KEY,
              kind: "binary" as const,
              description: "Automated rule checks: positive when every check passed.",
            },
          ]
        : []),
    ];
    for (const declaration of wanted) {
      const existing = await deps.keys.get(declaration.key);
      if (!existing) await deps.keys.define(declaration);
      else if (
        existing.kind !== declaration.kind ||
        (declaration.rating && (existing.rating?.min !== 0 || existing.rating?.max !== 1))
      ) {
        throw new ConflictError(
          `feedback key ${declaration.key} is declared differently (${existing.kind}); automated feedback needs it as ${declaration.kind}${declaration.rating ? " on 0..1" : ""}`,
        );
      }
    }
  };

  return {
    config,
    async run(context) {
      const settings = requireConfig();
      const { rubric } = settings;
      const rules = settings.rules;
      const rulesVersion = rules
        ? createHash("sha256").update(JSON.stringify(rules)).digest("hex").slice(0, 8)
        : "";
      await pinRubric(rubric);
      await declareKeys(rubric, rules !== undefined);

      const now = clock.now();
      const progress = context.progress as {
        lastId?: string;
        fromId?: string;
        totals?: Totals;
        cross?: CrossValidationCounts;
      } | null;
      const stored = await collections.judgeWatermarks.findOne({ _id: WATERMARK_ID });
      const start =
        stored?.lastId ??
        ObjectId.createFromTime(
          Math.floor((settings.startFrom ? new Date(settings.startFrom) : now).getTime() / 1000),
        );
      let last = progress?.lastId ? new ObjectId(progress.lastId) : start;
      const fromId = progress?.fromId ? new ObjectId(progress.fromId) : start;
      // Ids are time-ordered only roughly across processes; the newest seconds wait a run.
      const upper = ObjectId.createFromTime(
        Math.floor((now.getTime() - settings.settleSeconds * 1000) / 1000) +
          (settings.settleSeconds === 0 ? 1 : 0),
      );
      const totals: Totals = progress?.totals ?? {
        interactions: 0,
        sampled: 0,
        ruleVerdicts: 0,
        judgeVerdicts: 0,
        alreadyJudged: 0,
        failureCount: 0,
      };
      const pair =
        judges.length === 2
          ? ([judges[0]?.judge.name, judges[1]?.judge.name] as [string, string])
          : null;
      const cross = progress?.cross ?? (pair ? emptyCounts(pair) : undefined);
      const failures: JudgeRunDoc["failures"] = [];

      await collections.judgeRuns.updateOne(
        { _id: context.runId },
        {
          $setOnInsert: {
            rubric: { id: rubric.id, version: rubric.version },
            judges: judges.map(({ judge }) => judge.name),
            startedAt: now,
            fromId,
            toId: null,
            failures: [],
            ...totals,
          },
          $set: { state: "running", updatedAt: now },
          $unset: { error: "" },
        },
        { upsert: true },
      );

      try {
        for (;;) {
          context.signal.throwIfAborted();
          const batch = await collections.interactions
            .find(
              { _id: { $gt: last, $lt: upper } },
              {
                sort: { _id: 1 },
                limit: settings.batchSize,
                projection: { query: 1, response: 1, messages: 1, erasedAt: 1 },
              },
            )
            .toArray();
          if (batch.length === 0) break;
          const live = batch.filter((interaction) => !interaction.erasedAt);
          const idem = {
            rules: (id: ObjectId) => `rlaif:${id.toHexString()}:rules:${rulesVersion}`,
            judge: (id: ObjectId, name: string) =>
              `rlaif:${id.toHexString()}:${name}:${rubric.id}:${rubric.version}`,
          };
          const wanted = live.flatMap((interaction) => [
            ...(rules ? [idem.rules(interaction._id)] : []),
            ...(sampled(interaction._id, settings.sampleRate)
              ? judges.map(({ judge }) => idem.judge(interaction._id, judge.name))
              : []),
          ]);
          const existing = new Map(
            wanted.length === 0
              ? []
              : (
                  await collections.feedback
                    .find(
                      { idempotencyKey: { $in: wanted } },
                      { projection: { idempotencyKey: 1, metadata: 1, category: 1, sentiment: 1 } },
                    )
                    .toArray()
                ).map((feedback) => [feedback.idempotencyKey ?? "", feedback] as const),
          );
          for (const interaction of live) {
            totals.interactions += 1;
            if (rules) {
              const key = idem.rules(interaction._id);
              if (existing.has(key)) totals.alreadyJudged += 1;
              else if (await submitRules(interaction, key, rulesVersion)) totals.ruleVerdicts += 1;
              else totals.alreadyJudged += 1;
            }
            if (!sampled(interaction._id, settings.sampleRate) || judges.length === 0) continue;
            totals.sampled += 1;
            const outcomes = await Promise.all(
              judges.map(async ({ judge, spec }): Promise<Outcome | null> => {
                const key = idem.judge(interaction._id, judge.name);
                const found = existing.get(key);
                if (found) {
                  totals.alreadyJudged += 1;
                  return storedOutcome(found);
                }
                let verdict: JudgeVerdict;
                try {
                  verdict = await judge.evaluate(
                    {
                      query: interaction.query,
                      response: interaction.response,
                      ...(interaction.messages ? { messages: interaction.messages } : {}),
                      rubric,
                    },
                    context.signal,
                  );
                } catch (error) {
                  // A judge that answers nonsense or refuses this one request is recorded and
                  // skipped; an endpoint that is down fails the batch, so the job retries it.
                  const skippable =
                    error instanceof JudgeOutputError ||
                    (error instanceof HttpError && !error.transient);
                  if (!skippable) throw error;
                  totals.failureCount += 1;
                  failures.push({
                    judge: judge.name,
                    interactionId: interaction._id,
                    error: (error as Error).message.slice(0, 500),
                  });
                  return null;
                }
                if (await submitVerdict(interaction, verdict, spec, key)) totals.judgeVerdicts += 1;
                else totals.alreadyJudged += 1;
                return { passed: verdict.passed, category: verdict.category };
              }),
            );
            const [first, second] = outcomes;
            if (cross && first && second) tally(cross, first, second);
          }
          last = batch[batch.length - 1]?._id ?? last;
          await collections.judgeRuns.updateOne(
            { _id: context.runId },
            {
              $set: {
                ...totals,
                toId: last,
                updatedAt: clock.now(),
                ...(cross ? { crossValidation: cross } : {}),
              },
              ...(failures.length > 0
                ? { $push: { failures: { $each: failures.splice(0), $slice: -MAX_FAILURES_KEPT } } }
                : {}),
            },
          );
          await collections.judgeWatermarks.updateOne(
            { _id: WATERMARK_ID },
            { $max: { lastId: last }, $set: { updatedAt: clock.now() } },
            { upsert: true },
          );
          await context.checkpoint({
            lastId: last.toHexString(),
            fromId: fromId.toHexString(),
            totals,
            ...(cross ? { cross } : {}),
          });
        }
      } catch (error) {
        await collections.judgeRuns
          .updateOne(
            { _id: context.runId },
            {
              $set: {
                state: "failed",
                error: String((error as Error).message ?? error).slice(0, 500),
                updatedAt: clock.now(),
              },
            },
          )
          .catch(() => undefined);
        throw error;
      }
      const finished = clock.now();
      await collections.judgeRuns.updateOne(
        { _id: context.runId },
        { $set: { state: "succeeded", finishedAt: finished, updatedAt: finished } },
      );
      const run = await collections.judgeRuns.findOne({ _id: context.runId });
      if (!run) throw new Error(`judge run ${context.runId.toHexString()} vanished`);
      return run;
    },

    runs: (limit) =>
      collections.judgeRuns.find({}, { sort: { startedAt: -1, _id: -1 }, limit }).toArray(),

    async agreement(rubric) {
      const target =
        rubric ?? (config ? { id: config.rubric.id, version: config.rubric.version } : undefined);
      if (!target || judges.length < 2) return null;
      const names = [judges[0]?.judge.name ?? "", judges[1]?.judge.name ?? ""] as [string, string];
      const verdicts = await collections.feedback
        .find(
          { key: judgeKey(target.id), annotatorId: { $in: names } },
          {
            sort: { createdAt: -1, _id: -1 },
            limit: MAX_AGREEMENT_VERDICTS,
            projection: {
              interactionId: 1,
              annotatorId: 1,
              metadata: 1,
              category: 1,
              sentiment: 1,
            },
          },
        )
        .toArray();
      const byInteraction = new Map<string, Map<string, Outcome>>();
      for (const verdict of verdicts) {
        const meta = verdict.metadata?.rubric as { version?: unknown } | undefined;
        if (meta?.version !== target.version || !verdict.interactionId || !verdict.annotatorId)
          continue;
        const id = verdict.interactionId.toHexString();
        const judged = byInteraction.get(id) ?? new Map<string, Outcome>();
        if (!judged.has(verdict.annotatorId))
          judged.set(verdict.annotatorId, storedOutcome(verdict));
        byInteraction.set(id, judged);
      }
      const counts = emptyCounts(names);
      for (const judged of byInteraction.values()) {
        const first = judged.get(names[0]);
        const second = judged.get(names[1]);
        if (first && second) tally(counts, first, second);
      }
      return agreementOf(counts, target);
    },
  };

  async function submitRules(
    interaction: InteractionDoc,
    idempotencyKey: string,
    rulesVersion: string,
  ): Promise<boolean> {
    const results = runRuleChecks(config?.rules ?? {}, interaction);
    const failed = results.filter((result) => !result.passed);
    return stored(() =>
      deps.feedback.submit(
        {
          kind: "binary",
          input: {
            interactionId: interaction._id,
            key: RULES_KEY,
            source: "rule",
            annotatorId: "rules",
            positive: failed.length === 0,
            ...(failed[0] ? { category: failed[0].category } : {}),
            ...(failed.length > 0
              ? { comment: failed.map((result) => `${result.check}: ${result.detail}`).join("; ") }
              : {}),
            metadata: {
              rules: rulesVersion,
              passed: failed.length === 0,
              checks: Object.fromEntries(results.map((result) => [result.check, result.passed])),
            },
            idempotencyKey,
          },
        },
        ruleActor,
      ),
    );
  }

  async function submitVerdict(
    interaction: InteractionDoc,
    verdict: JudgeVerdict,
    spec: JudgeSpec,
    idempotencyKey: string,
  ): Promise<boolean> {
    return stored(() =>
      deps.feedback.submit(
        {
          kind: "rating",
          input: {
            interactionId: interaction._id,
            key: judgeKey(verdict.rubric.id),
            source: spec.type === "openai" ? "llm_judge" : "rule",
            annotatorId: verdict.judge,
            score: verdict.score,
            ...(verdict.category ? { category: verdict.category } : {}),
            ...(verdict.reasoning ? { comment: verdict.reasoning } : {}),
            metadata: { rubric: verdict.rubric, passed: verdict.passed, judge: verdict.judge },
            idempotencyKey,
          },
        },
        spec.type === "openai" ? judgeActor : ruleActor,
      ),
    );
  }
}

/**
 * Stores one verdict; false when it was already stored (a rerun, or a concurrent run whose judge
 * answered differently: the first verdict stands) or can no longer be stored (erased user).
 */
async function stored(submit: () => Promise<{ duplicate: boolean }>): Promise<boolean> {
  try {
    return !(await submit()).duplicate;
  } catch (error) {
    // NotFound: the user was erased meanwhile; their interactions take no new feedback.
    if (error instanceof ConflictError || error instanceof NotFoundError) return false;
    throw error;
  }
}
