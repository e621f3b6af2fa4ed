import { createHash } from "node:crypto";
import type { ObjectId } from "mongodb";
import { stringify } from "safe-stable-stringify";
import type { FeedbackDoc } from "../store/documents.js";

/**
 * Deduplication: feedback with the same content from the same rater on the same answer and key is
 * one opinion. The original is the earliest active one (a rater's newer copy supersedes the older,
 * and only active feedback counts), else the earliest; every other copy links to it.
 */
export function duplicateKey(feedback: FeedbackDoc): string {
  // Anonymous API submissions have no rater: the credential and client address stand in for one.
  const rater = feedback.raterKey ?? `${feedback.submittedBy}|${feedback.client?.ip ?? ""}`;
  const content = {
    kind: feedback.kind,
    key: feedback.key,
    subject: feedback.subject,
    rater,
    binary: feedback.binary?.positive,
    rating: feedback.rating?.score,
    correction: feedback.correction?.correctedResponse,
    comment: feedback.comment,
    implicit: feedback.implicit,
    flag: feedback.flag,
    preferred: feedback.comparison?.preferred,
  };
  return createHash("sha256")
    .update(stringify(content) ?? "")
    .digest("base64url");
}

/** For each feedback of `batch`, the original it duplicates (absent: it is an original). */
export function findDuplicates(
  batch: readonly FeedbackDoc[],
  siblings: readonly FeedbackDoc[],
): Map<string, ObjectId> {
  const groups = new Map<string, FeedbackDoc[]>();
  const seen = new Set<string>();
  for (const feedback of [...siblings, ...batch]) {
    const id = feedback._id.toHexString();
    if (seen.has(id)) continue;
    seen.add(id);
    const key = duplicateKey(feedback);
    groups.set(key, [...(groups.get(key) ?? []), feedback]);
  }
  const originals = new Map<string, ObjectId>();
  for (const members of groups.values()) {
    if (members.length < 2) continue;
    const byAge = [...members].sort((a, b) =>
      a._id.toHexString().localeCompare(b._id.toHexString()),
    );
    const original = byAge.find((member) => member.status === "active") ?? byAge[0]!;
    for (const member of members) {
      if (!member._id.equals(original._id)) originals.set(member._id.toHexString(), original._id);
    }
  }
  const result = new Map<string, ObjectId>();
  for (const feedback of batch) {
    const original = originals.get(feedback._id.toHexString());
    if (original) result.set(feedback._id.toHexString(), original);
  }
  return result;
}
