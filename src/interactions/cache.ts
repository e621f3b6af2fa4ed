import { LRUCache } from "lru-cache";
import type { ObjectId } from "mongodb";
import type { InteractionDoc } from "../store/documents.js";

/** The fields of an interaction that never change once recorded (until an erasure). */
export type InteractionFacts = Pick<
  InteractionDoc,
  "_id" | "model" | "createdAt" | "userId" | "sessionId"
>;

/** Projection that reads exactly the cached facts (and whether the interaction was erased). */
export const interactionFactsProjection = {
  _id: 1,
  model: 1,
  createdAt: 1,
  userId: 1,
  sessionId: 1,
  erasedAt: 1,
} as const;

/**
 * A bounded, per-process cache of the immutable facts feedback validation needs (model,
 * timestamps, user and session), so a feedback write need not read its interaction.
 * Interactions never change after they are recorded, except by erasure: an entry may then be
 * stale, so the write's own digest update is conditional on the interaction still existing and
 * not being erased (feedback/summary-service.ts `apply`), and a write that finds it gone is taken
 * back and refused; the erasing process also forgets the entries it erased.
 */
export interface InteractionCache {
  get(id: ObjectId): InteractionFacts | undefined;
  remember(interaction: InteractionFacts & { erasedAt?: Date | undefined }): void;
  forget(id: ObjectId): void;
}

export function createInteractionCache(options: { max: number }): InteractionCache {
  const entries = new LRUCache<string, InteractionFacts>({ max: options.max });
  return {
    get: (id) => entries.get(id.toHexString()),
    remember(interaction) {
      if (interaction.erasedAt) return;
      const facts: InteractionFacts = {
        _id: interaction._id,
        model: interaction.model,
        createdAt: interaction.createdAt,
      };
      if (interaction.userId) facts.userId = interaction.userId;
      if (interaction.sessionId) facts.sessionId = interaction.sessionId;
      entries.set(interaction._id.toHexString(), facts);
    },
    forget: (id) => {
      entries.delete(id.toHexString());
    },
  };
}
