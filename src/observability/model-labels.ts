/**
 * The `model` label of every per-model metric. Model ids and versions are chosen by clients, so
 * they never become label values directly: only a configured set does, everything else is `other`.
 * An entry is a model id (`support-bot`: every version of it) or an id and version
 * (`support-bot@v2`: that version only; it wins over the bare id).
 */
export const OTHER_MODEL = "other";

export interface ModelRefLike {
  readonly id: string;
  readonly version?: string;
}

export type ModelLabeler = {
  /** The label value of a model (undefined: no model known, e.g. a comparison of inline texts). */
  (model: ModelRefLike | undefined | null): string;
  /** Every value the label can take: the configured entries, then `other`. */
  readonly values: readonly string[];
};

export function createModelLabeler(configured: readonly string[]): ModelLabeler {
  const entries = new Set(configured.filter((entry) => entry !== OTHER_MODEL));
  const label = ((model: ModelRefLike | undefined | null) => {
    if (!model) return OTHER_MODEL;
    if (model.version !== undefined) {
      const versioned = `${model.id}@${model.version}`;
      if (entries.has(versioned)) return versioned;
    }
    return entries.has(model.id) ? model.id : OTHER_MODEL;
  }) as ModelLabeler;
  Object.defineProperty(label, "values", { value: [...entries, OTHER_MODEL] });
  return label;
}
