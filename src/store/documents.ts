import type { ObjectId } from "mongodb";

/** The seven feedback kinds of the seed's "Feedback Types" table (plus flags from "UI Patterns"). */
export const feedbackKinds = [
  "binary",
  "rating",
  "correction",
  "comparison",
  "comment",
  "implicit",
  "flag",
] as const;
export type FeedbackKind = (typeof feedbackKinds)[number];

/** Who produced the feedback (seed: user signals and the RLAIF methods). */
export const feedbackSources = ["user", "expert", "llm_judge", "rule", "cross_model"] as const;
export type FeedbackSource = (typeof feedbackSources)[number];

export const sentiments = ["positive", "negative", "neutral"] as const;
export type Sentiment = (typeof sentiments)[number];

/** Behavioural signals a frontend can report without asking the user anything. */
export const implicitSignals = [
  "retry",
  "regenerate",
  "copy",
  "share",
  "abandon",
  "dwell",
  "session_length",
  "follow_up",
  "edit",
] as const;
export type ImplicitSignal = (typeof implicitSignals)[number];

export const flagCategories = ["safety", "accuracy", "other"] as const;
export type FlagCategory = (typeof flagCategories)[number];

export const flagSeverities = ["low", "medium", "high", "critical"] as const;
export type FlagSeverity = (typeof flagSeverities)[number];

/** The seed's failure categories (Categorization stage), usable on any feedback. */
export const failureCategories = [
  "accuracy",
  "safety",
  "format",
  "relevance",
  "knowledge_gap",
  "feature_request",
] as const;
export type FailureCategory = (typeof failureCategories)[number];

export const comparisonChoices = ["a", "b", "tie"] as const;
export type ComparisonChoice = (typeof comparisonChoices)[number];

export const feedbackStatuses = ["active", "superseded"] as const;
export type FeedbackStatus = (typeof feedbackStatuses)[number];

export interface ModelRef {
  readonly id: string;
  readonly version: string;
}

export interface ChatMessage {
  readonly role: string;
  readonly content: string;
  readonly name?: string;
}

/** Ids of the same exchange in an external tracer (LangSmith run ids, project id, trace id). */
export interface TraceRef {
  readonly provider?: string;
  readonly runId?: string;
  readonly projectId?: string;
  readonly traceId?: string;
  readonly startTime?: Date;
}

export interface TokenUsage {
  readonly prompt?: number;
  readonly completion?: number;
  readonly total?: number;
}

/** Per-interaction digest of its active feedback, kept in step on every write. */
export interface FeedbackSummary {
  readonly count: number;
  readonly positive: number;
  readonly negative: number;
  readonly hasCorrection: boolean;
  readonly flagged: boolean;
  readonly safetyFlagged: boolean;
  /** The interaction's feedbackRevision the summary was computed at; a lower one never wins. */
  readonly revision: number;
  /**
   * Tallies behind the flags above and the conflict pre-check, so that a write can maintain the
   * digest with `$inc` instead of re-reading the interaction's feedback (feedback/digest.ts).
   * Absent on digests written before they existed; the next rebuild adds them.
   */
  readonly corrections?: number;
  readonly flags?: number;
  readonly safetyFlags?: number;
  readonly ratings?: number;
}

export type RedactionCounts = Partial<Record<"email" | "phone" | "card" | "ip", number>>;

export interface InteractionDoc {
  _id: ObjectId;
  /** The user's query; for chats, the last user message. */
  query: string;
  messages?: ChatMessage[];
  response: string;
  model: ModelRef;
  settings?: Record<string, unknown>;
  sessionId?: string;
  /** Keyed hash of the product's user id; the raw id is never stored. */
  userId?: string;
  trace?: TraceRef;
  latencyMs?: number;
  tokens?: TokenUsage;
  metadata?: Record<string, unknown>;
  /** When the model answered (client clock); `recordedAt` is when Loopgate stored it. */
  createdAt: Date;
  recordedAt: Date;
  idempotencyKey?: string;
  payloadHash: string;
  redactions?: RedactionCounts;
  feedbackSummary: FeedbackSummary;
  /** Bumped by every feedback write; orders concurrent recomputations of the summary. */
  feedbackRevision: number;
  /**
   * Feedback whose change is counted in the digest but whose outbox marker is not cleared yet:
   * written in the same update as the `$inc`, so a recovery knows whether it still has to count
   * a feedback (feedback/digest.ts). Short: entries leave once their markers are cleared.
   */
  feedbackApplied?: ObjectId[];
  /**
   * Feedback a recovery counted on its writer's behalf (`rebuild`'s `adopt`); kept well past its
   * marker, so a writer that was merely slow cannot count it a second time.
   */
  feedbackAdopted?: ObjectId[];
  /** Set when the user's data was erased in anonymize mode. */
  erasedAt?: Date;
}

export interface ComparisonSide {
  readonly interactionId?: ObjectId;
  readonly text: string;
  readonly model?: ModelRef;
}

export interface FeedbackDoc {
  _id: ObjectId;
  kind: FeedbackKind;
  key: string;
  /** The interaction the feedback is about; absent only for comparisons of inline texts. */
  interactionId?: ObjectId;
  /** Every interaction this feedback touches (both sides of a comparison); the loaders' key. */
  interactionIds: ObjectId[];
  /** Copied from the interaction so aggregates by model or interaction time need no join. */
  model?: ModelRef;
  interactionCreatedAt?: Date;
  sessionId?: string;
  /** Pseudonymous id of the person who gave the feedback. */
  userId?: string;
  source: FeedbackSource;
  annotatorId?: string;
  /** Who the "changed their mind" rule compares: the same rater supersedes their own feedback. */
  raterKey?: string;
  /** What was judged, for that rule: the interaction id, or both sides of a comparison. */
  subject: string;
  sentiment: Sentiment;
  status: FeedbackStatus;
  supersededBy?: ObjectId;
  supersededAt?: Date;
  /**
   * Set when a recovery or race check superseded it (post-write.ts), not the superseding write's
   * own update: that write's digest `$inc` did not take it out (feedback/summary-service.ts).
   */
  supersededOutright?: boolean;
  comment?: string;
  category?: FailureCategory;
  binary?: { positive: boolean };
  rating?: { score: number; min: number; max: number; normalized: number };
  correction?: { originalResponse: string; correctedResponse: string };
  comparison?: {
    prompt: string;
    a: ComparisonSide;
    b: ComparisonSide;
    preferred: ComparisonChoice;
    /** 0..1: how clear the preference is (the seed asks for a clear quality difference). */
    strength?: number;
    reason?: string;
  };
  implicit?: { signal: ImplicitSignal; value?: number };
  flag?: { category: FlagCategory; severity: FlagSeverity; reason?: string };
  metadata?: Record<string, unknown>;
  createdAt: Date;
  receivedAt: Date;
  idempotencyKey?: string;
  payloadHash: string;
  /** Which credential submitted it: an API key id, or "feedbackToken". */
  submittedBy: string;
  redactions?: RedactionCounts;
  /** Set when an erasure anonymized this feedback. */
  erasedAt?: Date;
  /**
   * The outbox marker: set in the insert itself and removed once the post-write steps
   * (feedback/post-write.ts) have run, so a crash between the two leaves a trace the sweeper
   * (feedback/outbox.ts) finds and finishes.
   */
  pendingSince?: Date;
  /**
   * Set in the insert itself: the processing pipeline (src/pipeline/) has not seen this feedback
   * yet. Its job finds marked feedback in batches, writes `pipeline` and removes the marker.
   */
  pipelinePendingSince?: Date;
  /** What the submitting request told about its client, privacy-minded (see ClientInfo). */
  client?: ClientInfo;
  /** Keyed fingerprint of the feedback's normalized free text (identical-text floods). */
  textHash?: string;
  /** The processing pipeline's result; absent until processed. */
  pipeline?: PipelineResult;
}

/**
 * The submitting request's client: the address only as a keyed pseudonym (never the raw IP),
 * the user agent cut to 200 characters.
 */
export interface ClientInfo {
  ip?: string;
  userAgent?: string;
}

/** Where the action router sends a processed feedback (seed: "Action Router"). */
export const routeNames = [
  "fine_tuning",
  "guardrail",
  "rag_update",
  "prompt_backlog",
  "product_backlog",
  "expert_review",
] as const;
export type RouteName = (typeof routeNames)[number];

/** One feedback's pipeline result (CONTRACTS.md §1). */
export interface PipelineResult {
  /** The pipeline definition's version (bumped when stages change). */
  version: number;
  processedAt: Date;
  /** Set: a duplicate; only the original counts. */
  duplicateOf?: ObjectId;
  /** Set: kept but excluded (spam, bot, impossible speed, …). */
  filtered?: { reason: string; detail?: string };
  /** 0..1 reliability score. */
  quality: number;
  category: FailureCategory | null;
  /** "rule:<name>" or "judge:<name>". */
  categorizedBy?: string;
  /** >= 0, severity x frequency. */
  priority: number;
  /** Similar-failure group: the category and a hash of the normalized query. */
  groupKey?: string;
  route: RouteName | null;
}

export const routedItemStates = ["open", "closed"] as const;
export type RoutedItemState = (typeof routedItemStates)[number];

/** Work the action router handed to a team (CONTRACTS.md §2). */
export interface RoutedItemDoc {
  _id: ObjectId;
  route: RouteName;
  state: RoutedItemState;
  /** One open item per (route, groupKey): new feedback joins it. */
  groupKey: string;
  /** `<route>|<groupKey>` while open, absent once closed: its unique index keeps one open item. */
  openKey?: string;
  category: FailureCategory | null;
  priority: number;
  /** The newest feedback (at most 100); `feedbackCount` has the total. */
  feedbackIds: ObjectId[];
  feedbackCount: number;
  /** The newest interactions (at most 100). */
  interactionIds: ObjectId[];
  /** Why it was routed, one line. */
  reason: string;
  createdAt: Date;
  updatedAt: Date;
  closedAt?: Date;
  closedBy?: string;
  closeNote?: string;
}

/**
 * A rater's standing with consensus (pipeline quality scoring), recomputed from `raterVotes`.
 * `_id` is the rater key (feedback.raterKey).
 */
export interface RaterTrustDoc {
  _id: string;
  agreements: number;
  disagreements: number;
  /** (agreements + 1) / (agreements + disagreements + 2): 0.5 for a rater nobody judged yet. */
  trust: number;
  updatedAt: Date;
}

/** Whether one rater agreed with the consensus on one subject; `_id` is `<subject>|<rater>`. */
export interface RaterVoteDoc {
  _id: string;
  rater: string;
  subject: string;
  agrees: boolean;
  updatedAt: Date;
}

/** A declared feedback key (as LangSmith's feedback configs, but enforced on write). */
export interface FeedbackKeyDoc {
  _id: string;
  kind: FeedbackKind;
  description?: string;
  rating?: { min: number; max: number; integer: boolean };
  /** Allowed failure categories for this key; empty means any. */
  categories?: FailureCategory[];
  isLowerScoreBetter: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export const conflictStatuses = ["open", "resolved"] as const;
export type ConflictStatus = (typeof conflictStatuses)[number];

export const conflictReasons = ["sentiment_disagreement", "rating_spread"] as const;
export type ConflictReason = (typeof conflictReasons)[number];

export const conflictDecisions = [
  "accept_positive",
  "accept_negative",
  "exclude",
  "dismiss",
] as const;
export type ConflictDecision = (typeof conflictDecisions)[number];

export interface ConflictDoc {
  _id: ObjectId;
  interactionId: ObjectId;
  model?: ModelRef;
  status: ConflictStatus;
  reasons: ConflictReason[];
  feedbackIds: ObjectId[];
  raterCount: number;
  positive: number;
  negative: number;
  detectedAt: Date;
  updatedAt: Date;
  /** The interaction's feedbackRevision this state was computed at. */
  revision: number;
  resolution?: {
    decision: ConflictDecision;
    note?: string;
    resolvedBy: string;
    resolvedAt: Date;
  };
}

export interface ApiKeyDoc {
  _id: ObjectId;
  name: string;
  /** SHA-256 of the whole key: keys are high-entropy random strings, so no salt is needed. */
  hash: string;
  /** First characters of the key, shown so people can tell keys apart. */
  prefix: string;
  scopes: Array<"ingest" | "read" | "admin">;
  createdAt: Date;
  createdBy: string;
  lastUsedAt?: Date;
  revokedAt?: Date;
  revokedBy?: string;
}

export interface ErasureDoc {
  _id: ObjectId;
  /** The pseudonym, never the raw user id. */
  userId: string;
  mode: "delete" | "anonymize";
  requestedBy: string;
  createdAt: Date;
  /** "running" until every step finished; a rerun completes what a crash left undone. */
  status: "running" | "done";
  /** Interactions whose digests and conflicts the erasure must refresh. */
  touched: ObjectId[];
  interactions: number;
  feedback: number;
  conflictsUpdated: number;
}
