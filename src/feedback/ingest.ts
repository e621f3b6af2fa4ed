import { ObjectId } from "mongodb";
import { type Actor, actorLabel } from "../auth/actor.js";
import type { Clock } from "../clock.js";
import type { ConflictService } from "../conflicts/service.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { DomainEvents } from "../events.js";
import {
  type InteractionCache,
  type InteractionFacts,
  interactionFactsProjection,
} from "../interactions/cache.js";
import type { PayloadHasher } from "../privacy/payload-hash.js";
import type { Pseudonymizer } from "../privacy/pseudonym.js";
import type { Redactor } from "../privacy/redaction.js";
import type {
  ComparisonSide,
  ConflictDoc,
  FailureCategory,
  FeedbackDoc,
  FeedbackKeyDoc,
  FeedbackKind,
  InteractionDoc,
  RedactionCounts,
  Sentiment,
} from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import { clientInfo, type RequestClient, textHashOf } from "./client.js";
import { type FeedbackInputs, feedbackInputs, type ParsedFeedbackInputs } from "./inputs.js";
import type { FeedbackKeyService } from "./keys.js";
import type { AfterInsert, FeedbackOutbox } from "./outbox.js";
import { normalizeRating, sentimentOf } from "./sentiment.js";

export interface SubmittedFeedback {
  readonly feedback: FeedbackDoc;
  /** True when the idempotency key was seen before and the stored feedback is returned. */
  readonly duplicate: boolean;
  /** Earlier feedback of the same rater that this one replaced. */
  readonly supersededIds: readonly ObjectId[];
  /**
   * The open disagreement on the interaction, when this feedback created or joined one. Checked
   * after the write is answered: only a caller that asks waits for it.
   */
  conflict(): Promise<ConflictDoc | null>;
}

export type FeedbackSubmission = {
  [Kind in FeedbackKind]: { readonly kind: Kind; readonly input: FeedbackInputs[Kind] };
}[FeedbackKind];

export interface FeedbackIngestService {
  /** `client`: what the HTTP request says about its sender (spam filtering), when there is one. */
  submit(
    submission: FeedbackSubmission,
    actor: Actor,
    client?: RequestClient,
  ): Promise<SubmittedFeedback>;
}

/** Default key per kind, used when the caller names none. */
export const defaultKeys: Record<FeedbackKind, string> = {
  binary: "thumbs",
  rating: "rating",
  correction: "correction",
  comparison: "preference",
  comment: "comment",
  implicit: "implicit",
  flag: "flag",
};

const DEFAULT_RATING = { min: 1, max: 5, integer: true } as const;

/**
 * A referenced interaction as the write path knows it: its immutable facts (often from the
 * cache), plus its texts for the kinds that copy them (`needsTexts`).
 */
export type InteractionView = InteractionFacts &
  Partial<Pick<InteractionDoc, "query" | "response">>;

/** What a kind's builder gets: its parsed input and what the write path resolved for it. */
interface KindContext<Kind extends FeedbackKind> {
  readonly input: ParsedFeedbackInputs[Kind];
  readonly key: string;
  readonly config: FeedbackKeyDoc | null;
  /** The referenced interactions, in reference order (a comparison's recorded sides). */
  readonly interactions: readonly InteractionView[];
  /** Redacts PII from free text, counting what it replaced. */
  clean(text: string): string;
  fingerprint: PayloadHasher;
}

/** What a kind adds to the common feedback document. */
interface KindFields {
  readonly fields: Partial<
    Pick<
      FeedbackDoc,
      "binary" | "rating" | "correction" | "comparison" | "implicit" | "flag" | "comment"
    >
  >;
  /** The failure category the kind implies (flags), overriding the rater's. */
  readonly category?: FailureCategory;
  /** What "the same rater changed their mind" compares; the interaction id by default. */
  readonly subject?: string;
  readonly declaredSentiment?: Sentiment;
}

interface KindSpec<Kind extends FeedbackKind> {
  parse(raw: unknown): ParsedFeedbackInputs[Kind];
  /** The kind copies the interaction's query or response, so it reads them from the store. */
  readonly needsTexts?: boolean;
  /** Interactions the input references (checked against a token before anything is loaded). */
  references(input: ParsedFeedbackInputs[Kind]): ObjectId[];
  /** The failure category the rater picked, checked against the key's allowed categories. */
  raterCategory(input: ParsedFeedbackInputs[Kind]): FailureCategory | undefined;
  build(context: KindContext<Kind>): KindFields;
}

const onOneInteraction = (input: { interactionId: ObjectId }) => [input.interactionId];
const pickedCategory = (input: { category?: FailureCategory | undefined }) => input.category;

/** One entry per kind: how its input is parsed, what it references and what it stores. */
const kindSpecs: { readonly [Kind in FeedbackKind]: KindSpec<Kind> } = {
  binary: {
    parse: (raw) => parseInput(feedbackInputs.binary, raw),
    references: onOneInteraction,
    raterCategory: pickedCategory,
    build: ({ input }) => ({ fields: { binary: { positive: input.positive } } }),
  },
  rating: {
    parse: (raw) => parseInput(feedbackInputs.rating, raw),
    references: onOneInteraction,
    raterCategory: pickedCategory,
    build: ({ input, key, config }) => {
      const { score } = input;
      const range = config?.rating ?? DEFAULT_RATING;
      if (score < range.min || score > range.max || (range.integer && !Number.isInteger(score))) {
        throw new ValidationError([
          {
            path: "input.score",
            message: `must be ${range.integer ? "a whole number " : ""}between ${range.min} and ${range.max} for key "${key}"`,
          },
        ]);
      }
      const lowerIsBetter = config?.isLowerScoreBetter ?? false;
      return {
        fields: {
          rating: {
            score,
            min: range.min,
            max: range.max,
            normalized: normalizeRating(score, range.min, range.max, lowerIsBetter),
          },
        },
      };
    },
  },
  correction: {
    parse: (raw) => parseInput(feedbackInputs.correction, raw),
    needsTexts: true,
    references: onOneInteraction,
    raterCategory: pickedCategory,
    build: ({ input, interactions, clean }) => {
      const primary = interactions[0];
      if (primary?.response === undefined) {
        throw new NotFoundError("Interaction", input.interactionId.toHexString());
      }
      return {
        fields: {
          correction: {
            originalResponse: primary.response,
            correctedResponse: clean(input.correctedResponse),
          },
        },
      };
    },
  },
  comparison: {
    parse: (raw) => parseInput(feedbackInputs.comparison, raw),
    needsTexts: true,
    references: (input) =>
      [input.a.interactionId, input.b.interactionId].filter(
        (id): id is ObjectId => id !== undefined,
      ),
    raterCategory: pickedCategory,
    build: ({ input, interactions, clean, fingerprint }) => {
      const side = (value: typeof input.a): ComparisonSide => {
        const recorded = value.interactionId
          ? interactions.find((interaction) => interaction._id.equals(value.interactionId))
          : undefined;
        return recorded
          ? { interactionId: recorded._id, text: recorded.response ?? "", model: recorded.model }
          : { text: clean(value.text ?? "") };
      };
      const a = side(input.a);
      const b = side(input.b);
      // One comparison per pair of sides and rater: comparing X with Z must not replace X with Y.
      const sideKey = (value: ComparisonSide) =>
        value.interactionId ? value.interactionId.toHexString() : `text:${fingerprint(value.text)}`;
      return {
        subject: [sideKey(a), sideKey(b)].sort().join("|"),
        fields: {
          comparison: {
            prompt:
              (input.prompt !== undefined ? clean(input.prompt) : undefined) ??
              interactions[0]?.query ??
              "",
            a,
            b,
            preferred: input.preferred,
            ...(input.strength !== undefined ? { strength: input.strength } : {}),
            ...(input.reason !== undefined ? { reason: clean(input.reason) } : {}),
          },
        },
      };
    },
  },
  comment: {
    parse: (raw) => parseInput(feedbackInputs.comment, raw),
    references: onOneInteraction,
    raterCategory: pickedCategory,
    build: ({ input, clean }) => ({
      fields: { comment: clean(input.text) },
      ...(input.sentiment ? { declaredSentiment: input.sentiment } : {}),
    }),
  },
  implicit: {
    parse: (raw) => parseInput(feedbackInputs.implicit, raw),
    references: onOneInteraction,
    raterCategory: pickedCategory,
    build: ({ input }) => ({
      fields: {
        implicit: {
          signal: input.signal,
          ...(input.value !== undefined ? { value: input.value } : {}),
        },
      },
    }),
  },
  flag: {
    parse: (raw) => parseInput(feedbackInputs.flag, raw),
    references: onOneInteraction,
    // A flag's category is its own (safety, accuracy, other), not a rater-picked failure category.
    raterCategory: () => undefined,
    build: ({ input, clean }) => ({
      fields: {
        flag: {
          category: input.category,
          severity: input.severity,
          ...(input.reason !== undefined ? { reason: clean(input.reason) } : {}),
        },
      },
      // It is also the failure category the pipeline routes on.
      ...(input.category === "safety" || input.category === "accuracy"
        ? { category: input.category }
        : {}),
    }),
  },
};

/** The spec of one kind, typed by that kind (an indexed access TypeScript correlates). */
function specOf<Kind extends FeedbackKind>(kind: Kind): KindSpec<Kind> {
  return kindSpecs[kind];
}

/**
 * The write path of the loop: validate → check the actor → resolve the interaction(s) → enforce
 * the key's config → redact PII → store (idempotently) → post-write steps (post-write.ts) →
 * announce.
 */
export function createFeedbackIngestService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
  clock: Clock;
  redactor: Redactor;
  pseudonymizer: Pseudonymizer;
  /** Keyed fingerprint of inputs for idempotency checks. */
  fingerprint: PayloadHasher;
  keys: FeedbackKeyService;
  /** Immutable interaction facts, so most writes need not read their interaction. */
  interactionCache: InteractionCache;
  /** Runs the post-write steps of a committed write and keeps them durable (outbox.ts). */
  outbox: FeedbackOutbox;
  events: DomainEvents;
  /** The conflict an idempotent retry's answer shows. */
  conflicts: Pick<ConflictService, "forInteraction">;
  /** Told about post-write steps that failed after the insert committed (the sweeper finishes). */
  deferred(error: unknown, feedbackId: ObjectId): void;
  /** Reject feedback on keys no admin declared. */
  enforceDeclaredKeys: boolean;
}): FeedbackIngestService {
  const { collections, clock, redactor, pseudonymizer } = deps;

  const loadInteraction = async (id: ObjectId, needsTexts: boolean): Promise<InteractionView> => {
    if (!needsTexts) {
      const cached = deps.interactionCache.get(id);
      if (cached) return cached;
    }
    const interaction = needsTexts
      ? await collections.interactions.findOne({ _id: id })
      : await collections.interactions.findOne(
          { _id: id },
          { projection: interactionFactsProjection },
        );
    // An erased user's interactions take no new feedback: an old token must not re-link them.
    if (!interaction || interaction.erasedAt) {
      throw new NotFoundError("Interaction", id.toHexString());
    }
    deps.interactionCache.remember(interaction);
    return interaction;
  };

  const keyConfig = async (kind: FeedbackKind, key: string): Promise<FeedbackKeyDoc | null> => {
    const config = await deps.keys.get(key);
    if (!config) {
      if (deps.enforceDeclaredKeys && key !== defaultKeys[kind]) {
        throw new ValidationError([
          {
            path: "input.key",
            message: `feedback key "${key}" is not declared (defineFeedbackKey)`,
          },
        ]);
      }
      return null;
    }
    if (config.kind !== kind) {
      throw new ValidationError([
        {
          path: "input.key",
          message: `key "${key}" is declared for ${config.kind} feedback, not ${kind}`,
        },
      ]);
    }
    return config;
  };

  /**
   * Tokens speak for the interaction's own user and nobody else: every interaction the feedback
   * references must be the bound one (a comparison's other side is inline text), checked before
   * anything is loaded so a token cannot probe or read other interactions.
   */
  const authorize = (
    actor: Actor,
    referenced: readonly ObjectId[],
    parsed: { source: string; annotatorId?: string | undefined },
  ) => {
    if (actor.kind !== "feedbackToken") return;
    if (referenced.length === 0 || referenced.some((id) => !id.equals(actor.interactionId))) {
      throw new ForbiddenError("this feedback token is bound to another interaction");
    }
    if (parsed.source !== "user" || parsed.annotatorId) {
      throw new ForbiddenError("feedback tokens can only submit user feedback");
    }
  };

  const build = async <Kind extends FeedbackKind>(
    kind: Kind,
    raw: unknown,
    actor: Actor,
    client: RequestClient | undefined,
  ): Promise<{ doc: FeedbackDoc; backfilled: boolean }> => {
    const spec = specOf(kind);
    const parsed = spec.parse(raw);
    const key = parsed.key ?? defaultKeys[kind];
    const redactions: RedactionCounts = {};
    const clean = (text: string) => redactor.redact(text, redactions);

    const referenced = spec.references(parsed);
    authorize(actor, referenced, parsed);
    const interactions = await Promise.all(
      referenced.map((id) => loadInteraction(id, spec.needsTexts === true)),
    );
    const primary = interactions[0];
    const config = await keyConfig(kind, key);

    const picked = spec.raterCategory(parsed);
    if (picked && config?.categories?.length && !config.categories.includes(picked)) {
      throw new ValidationError([
        {
          path: "input.category",
          message: `key "${key}" allows only: ${config.categories.join(", ")}`,
        },
      ]);
    }

    const own = spec.build({
      input: parsed,
      key,
      config,
      interactions,
      clean,
      fingerprint: deps.fingerprint,
    });
    const now = clock.now();
    const userId =
      actor.kind === "feedbackToken"
        ? (actor.userId ?? primary?.userId)
        : parsed.userId
          ? pseudonymizer.pseudonymize(parsed.userId)
          : parsed.source === "user"
            ? primary?.userId
            : undefined;
    const doc: FeedbackDoc = {
      _id: new ObjectId(),
      kind,
      key,
      interactionIds: interactions.map((interaction) => interaction._id),
      subject: own.subject ?? primary?._id.toHexString() ?? "",
      source: parsed.source,
      sentiment: "neutral",
      status: "active",
      createdAt: parsed.createdAt ?? now,
      receivedAt: now,
      pendingSince: now,
      // The processing pipeline's marker, in the insert: no extra command on the write path.
      pipelinePendingSince: now,
      payloadHash: deps.fingerprint({ kind, parsed }),
      submittedBy: actorLabel(actor),
    };
    if (primary) {
      doc.interactionId = primary._id;
      doc.model = primary.model;
      doc.interactionCreatedAt = primary.createdAt;
      if (primary.sessionId) doc.sessionId = primary.sessionId;
    }
    if (userId) doc.userId = userId;
    if (parsed.annotatorId) doc.annotatorId = parsed.annotatorId;
    const rater = parsed.annotatorId
      ? `annotator:${parsed.source}:${parsed.annotatorId}`
      : userId
        ? `user:${userId}`
        : actor.kind === "feedbackToken"
          ? // An anonymous end user is still one rater: the holder of this interaction's token.
            `token:${actor.interactionId.toHexString()}`
          : undefined;
    if (rater) doc.raterKey = rater;
    if (parsed.comment !== undefined) doc.comment = clean(parsed.comment);
    const category = own.category ?? picked;
    if (category) doc.category = category;
    if (parsed.metadata) doc.metadata = redactor.redactDeep(parsed.metadata, redactions);
    if (parsed.idempotencyKey) doc.idempotencyKey = parsed.idempotencyKey;
    Object.assign(doc, own.fields);
    doc.sentiment = sentimentOf({
      ...doc,
      ...(own.declaredSentiment ? { declared: own.declaredSentiment } : {}),
    });
    if (Object.keys(redactions).length > 0) doc.redactions = redactions;
    const sender = client ? clientInfo(client, deps.fingerprint) : undefined;
    if (sender) doc.client = sender;
    const textHash = textHashOf(doc, deps.fingerprint);
    if (textHash) doc.textHash = textHash;
    return { doc, backfilled: parsed.createdAt !== undefined };
  };

  const insert = async (doc: FeedbackDoc): Promise<FeedbackDoc | null> => {
    try {
      await collections.feedback.insertOne(doc);
      return null;
    } catch (error) {
      if (!doc.idempotencyKey || !isDuplicateKeyOn(error, "idempotencyKey")) throw error;
      const existing = await collections.feedback.findOne({ idempotencyKey: doc.idempotencyKey });
      if (!existing) throw error;
      if (existing.payloadHash !== doc.payloadHash) {
        throw new ConflictError(
          `idempotency key ${doc.idempotencyKey} was already used for different feedback`,
        );
      }
      return existing;
    }
  };

  return {
    async submit(submission, actor, client) {
      const { doc, backfilled } = await build(submission.kind, submission.input, actor, client);
      const existing = await insert(doc);
      if (existing) {
        // The first attempt may have stored the feedback and failed before its post-write steps
        // (or be running them still): the full, idempotent steps make sure they are done.
        try {
          await deps.outbox.finish(existing._id, { force: true });
        } catch (error) {
          if (error instanceof NotFoundError) throw error;
          deps.deferred(error, existing._id);
        }
        const primary = existing.interactionIds[0];
        const conflict = async () => {
          if (!primary) return null;
          const found = await deps.conflicts.forInteraction(primary);
          return found?.status === "open" && found.feedbackIds.some((id) => id.equals(existing._id))
            ? found
            : null;
        };
        const current = (await collections.feedback.findOne({ _id: existing._id })) ?? existing;
        return { feedback: current, duplicate: true, supersededIds: [], conflict };
      }
      let after: AfterInsert;
      try {
        after = await deps.outbox.afterInsert(doc, { backfilled });
      } catch (error) {
        if (error instanceof NotFoundError) {
          for (const id of doc.interactionIds) deps.interactionCache.forget(id);
        }
        throw error;
      }
      deps.events.emit("feedbackRecorded", doc);
      return { feedback: doc, duplicate: false, ...after };
    },
  };
}
