import { ObjectId } from "mongodb";
import type { Clock } from "../clock.js";
import type { ConflictService } from "../conflicts/service.js";
import type { Principal } from "../context.js";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../errors.js";
import type { DomainEvents } from "../events.js";
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
} from "../store/documents.js";
import { isDuplicateKeyOn } from "../store/errors.js";
import type { Collections } from "../store/mongo.js";
import { parseInput } from "../validation.js";
import { parseObjectId } from "./filter.js";
import { type FeedbackInputs, feedbackInputs, type ParsedFeedbackInputs } from "./inputs.js";
import type { FeedbackKeyService } from "./keys.js";
import { normalizeRating, sentimentOf, supersedesEarlier } from "./sentiment.js";
import type { SummaryService } from "./summary-service.js";

export interface SubmittedFeedback {
  readonly feedback: FeedbackDoc;
  /** True when the idempotency key was seen before and the stored feedback is returned. */
  readonly duplicate: boolean;
  /** Earlier feedback of the same rater that this one replaced. */
  readonly supersededIds: readonly ObjectId[];
  /** The open disagreement on the interaction, when this feedback created or joined one. */
  readonly conflict: ConflictDoc | null;
}

export type FeedbackSubmission = {
  [Kind in FeedbackKind]: { readonly kind: Kind; readonly input: FeedbackInputs[Kind] };
}[FeedbackKind];

export interface FeedbackIngestService {
  submit(submission: FeedbackSubmission, principal: Principal): Promise<SubmittedFeedback>;
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
 * The write path of the loop: validate → check the credential → resolve the interaction(s) →
 * enforce the key's config → redact PII → store (idempotently) → supersede the rater's earlier
 * mind → refresh the interaction's digest and conflicts → announce.
 */
export function createFeedbackIngestService(deps: {
  collections: Pick<Collections, "feedback" | "interactions">;
  clock: Clock;
  redactor: Redactor;
  pseudonymizer: Pseudonymizer;
  /** Keyed fingerprint of inputs for idempotency checks. */
  fingerprint: PayloadHasher;
  keys: FeedbackKeyService;
  summaries: SummaryService;
  conflicts: ConflictService;
  events: DomainEvents;
  /** Reject feedback on keys no admin declared. */
  enforceDeclaredKeys: boolean;
}): FeedbackIngestService {
  const { collections, clock, redactor, pseudonymizer } = deps;

  const loadInteraction = async (id: string, path: string): Promise<InteractionDoc> => {
    const interaction = await collections.interactions.findOne({ _id: parseObjectId(id, path) });
    // An erased user's interactions take no new feedback: an old token must not re-link them.
    if (!interaction || interaction.erasedAt) throw new NotFoundError("Interaction", id);
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
    principal: Principal,
    referenced: readonly string[],
    parsed: { source: string; annotatorId?: string | undefined },
  ) => {
    if (principal.kind !== "feedbackToken") return;
    const bound = principal.interactionId.toLowerCase();
    if (referenced.length === 0 || referenced.some((id) => id.toLowerCase() !== bound)) {
      throw new ForbiddenError("this feedback token is bound to another interaction");
    }
    if (parsed.source !== "user" || parsed.annotatorId) {
      throw new ForbiddenError("feedback tokens can only submit user feedback");
    }
  };

  const build = async (
    submission: FeedbackSubmission,
    principal: Principal,
  ): Promise<{ doc: FeedbackDoc; interactions: InteractionDoc[] }> => {
    const parsed = parseInput(
      feedbackInputs[submission.kind],
      submission.input,
    ) as ParsedFeedbackInputs[FeedbackKind];
    const kind = submission.kind;
    const key = parsed.key ?? defaultKeys[kind];
    const redactions: RedactionCounts = {};
    const clean = (text: string | undefined) =>
      text === undefined ? undefined : redactor.redact(text, redactions);

    const referenced =
      kind === "comparison"
        ? [
            (parsed as ParsedFeedbackInputs["comparison"]).a.interactionId,
            (parsed as ParsedFeedbackInputs["comparison"]).b.interactionId,
          ].filter((id): id is string => Boolean(id))
        : [(parsed as { interactionId: string }).interactionId];
    authorize(principal, referenced, parsed);

    let interactions: InteractionDoc[];
    let comparison: FeedbackDoc["comparison"];
    let subject: string;
    if (kind === "comparison") {
      const input = parsed as ParsedFeedbackInputs["comparison"];
      const side = async (
        value: { interactionId?: string | undefined; text?: string | undefined },
        path: string,
      ): Promise<[ComparisonSide, InteractionDoc | undefined]> => {
        if (!value.interactionId) return [{ text: clean(value.text) ?? "" }, undefined];
        const interaction = await loadInteraction(value.interactionId, path);
        return [
          { interactionId: interaction._id, text: interaction.response, model: interaction.model },
          interaction,
        ];
      };
      const [[a, interactionA], [b, interactionB]] = await Promise.all([
        side(input.a, "input.a.interactionId"),
        side(input.b, "input.b.interactionId"),
      ]);
      interactions = [interactionA, interactionB].filter((item): item is InteractionDoc =>
        Boolean(item),
      );
      // One comparison per pair of sides and rater: comparing X with Z must not replace X with Y.
      const sideKey = (value: ComparisonSide) =>
        value.interactionId
          ? value.interactionId.toHexString()
          : `text:${deps.fingerprint(value.text)}`;
      subject = [sideKey(a), sideKey(b)].sort().join("|");
      comparison = {
        prompt: clean(input.prompt) ?? interactions[0]?.query ?? "",
        a,
        b,
        preferred: input.preferred,
        ...(input.strength !== undefined ? { strength: input.strength } : {}),
        ...(input.reason !== undefined ? { reason: clean(input.reason) ?? "" } : {}),
      };
    } else {
      const input = parsed as { interactionId: string };
      interactions = [await loadInteraction(input.interactionId, "input.interactionId")];
      subject = input.interactionId.toLowerCase();
    }
    const interactionIds = interactions.map((interaction) => interaction._id);
    const primary = interactions[0];
    const config = await keyConfig(kind, key);

    // Flags carry their own category (safety, accuracy, other), mapped further down.
    const category = kind === "flag" ? undefined : (parsed.category as FailureCategory | undefined);
    if (category && config?.categories?.length && !config.categories.includes(category)) {
      throw new ValidationError([
        {
          path: "input.category",
          message: `key "${key}" allows only: ${config.categories.join(", ")}`,
        },
      ]);
    }

    const now = clock.now();
    const userId =
      principal.kind === "feedbackToken"
        ? (principal.userId ?? primary?.userId)
        : parsed.userId
          ? pseudonymizer.pseudonymize(parsed.userId)
          : parsed.source === "user"
            ? primary?.userId
            : undefined;
    const doc: FeedbackDoc = {
      _id: new ObjectId(),
      kind,
      key,
      interactionIds,
      subject,
      source: parsed.source,
      sentiment: "neutral",
      status: "active",
      createdAt: parsed.createdAt ?? now,
      receivedAt: now,
      payloadHash: deps.fingerprint({ kind, parsed }),
      submittedBy: principal.kind === "apiKey" ? principal.keyId : principal.kind,
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
        : principal.kind === "feedbackToken"
          ? // An anonymous end user is still one rater: the holder of this interaction's token.
            `token:${principal.interactionId}`
          : undefined;
    if (rater) doc.raterKey = rater;
    if (parsed.comment !== undefined) doc.comment = clean(parsed.comment);
    if (category) doc.category = category;
    if (parsed.metadata) doc.metadata = redactor.redactDeep(parsed.metadata, redactions);
    if (parsed.idempotencyKey) doc.idempotencyKey = parsed.idempotencyKey;

    let declaredSentiment: FeedbackDoc["sentiment"] | undefined;
    switch (kind) {
      case "binary":
        doc.binary = { positive: (parsed as ParsedFeedbackInputs["binary"]).positive };
        break;
      case "rating": {
        const { score } = parsed as ParsedFeedbackInputs["rating"];
        const range = config?.rating ?? DEFAULT_RATING;
        if (score < range.min || score > range.max || (range.integer && !Number.isInteger(score))) {
          throw new ValidationError([
            {
              path: "input.score",
              message: `must be ${range.integer ? "a whole number " : ""}between ${range.min} and ${range.max} for key "${key}"`,
            },
          ]);
        }
        doc.rating = {
          score,
          min: range.min,
          max: range.max,
          normalized: normalizeRating(
            score,
            range.min,
            range.max,
            config?.isLowerScoreBetter ?? false,
          ),
        };
        break;
      }
      case "correction": {
        if (!primary) throw new NotFoundError("Interaction", "");
        doc.correction = {
          originalResponse: primary.response,
          correctedResponse:
            clean((parsed as ParsedFeedbackInputs["correction"]).correctedResponse) ?? "",
        };
        break;
      }
      case "comparison":
        if (comparison) doc.comparison = comparison;
        break;
      case "comment": {
        const input = parsed as ParsedFeedbackInputs["comment"];
        doc.comment = clean(input.text);
        declaredSentiment = input.sentiment;
        break;
      }
      case "implicit": {
        const input = parsed as ParsedFeedbackInputs["implicit"];
        doc.implicit = {
          signal: input.signal,
          ...(input.value !== undefined ? { value: input.value } : {}),
        };
        break;
      }
      case "flag": {
        const input = parsed as ParsedFeedbackInputs["flag"];
        doc.flag = {
          category: input.category,
          severity: input.severity,
          ...(input.reason !== undefined ? { reason: clean(input.reason) ?? "" } : {}),
        };
        // A flag's own category is also the failure category the pipeline routes on.
        if (input.category === "safety" || input.category === "accuracy")
          doc.category = input.category;
        break;
      }
    }
    doc.sentiment = sentimentOf({
      ...doc,
      ...(declaredSentiment ? { declared: declaredSentiment } : {}),
    });
    if (Object.keys(redactions).length > 0) doc.redactions = redactions;
    return { doc, interactions };
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

  /**
   * "A user changing their mind": of one rater's active feedback on the same interaction and key,
   * only the latest (by createdAt, then id) stays active, so a delayed retry of an old opinion
   * cannot win over a newer one. Returns the ids that went to history.
   */
  const supersedeEarlier = async (doc: FeedbackDoc): Promise<ObjectId[]> => {
    if (!doc.raterKey || !supersedesEarlier(doc.kind)) return [];
    const mine = await collections.feedback
      .find(
        {
          subject: doc.subject,
          key: doc.key,
          raterKey: doc.raterKey,
          status: "active",
        },
        { projection: { _id: 1, createdAt: 1 } },
      )
      .toArray();
    const latest = mine.reduce<(typeof mine)[number] | undefined>(
      (best, item) =>
        !best ||
        item.createdAt > best.createdAt ||
        (item.createdAt.getTime() === best.createdAt.getTime() &&
          item._id.toHexString() > best._id.toHexString())
          ? item
          : best,
      undefined,
    );
    if (!latest) return [];
    const older = mine.filter((item) => !item._id.equals(latest._id)).map((item) => item._id);
    if (older.length === 0) return [];
    const supersededAt = clock.now();
    await collections.feedback.updateMany(
      { _id: { $in: older }, status: "active" },
      { $set: { status: "superseded", supersededBy: latest._id, supersededAt } },
    );
    if (older.some((id) => id.equals(doc._id))) {
      doc.status = "superseded";
      doc.supersededBy = latest._id;
      doc.supersededAt = supersededAt;
      return [];
    }
    return older;
  };

  /** Everything after the insert; idempotent, so a retry can redo what a crash left undone. */
  const settle = async (doc: FeedbackDoc) => {
    const supersededIds = await supersedeEarlier(doc);
    let conflict: ConflictDoc | null = null;
    for (const interactionId of doc.interactionIds) {
      const refreshed = await deps.summaries.refresh(interactionId);
      if (!refreshed) continue;
      const found = await deps.conflicts.evaluate(
        interactionId,
        refreshed.active,
        refreshed.revision,
      );
      if (found?.status === "open" && found.feedbackIds.some((id) => id.equals(doc._id))) {
        conflict = found;
      }
    }
    return { supersededIds, conflict };
  };

  return {
    async submit(submission, principal) {
      const { doc } = await build(submission, principal);
      const existing = await insert(doc);
      if (existing) {
        // The first attempt may have stored the feedback and failed before the follow-up steps.
        const { conflict } = await settle(existing);
        return { feedback: existing, duplicate: true, supersededIds: [], conflict };
      }
      const { supersededIds, conflict } = await settle(doc);
      deps.events.emit("feedbackRecorded", doc);
      return { feedback: doc, duplicate: false, supersededIds, conflict };
    },
  };
}
