/**
 * The row shapes of the training-data exports, exactly as TRL's trainers read them (one JSON
 * object per JSONL line; huggingface/trl docs/source/dataset_formats.md). Every builder validates
 * each row against these before writing it, so an export never carries a row a trainer would
 * reject or mis-type.
 *
 * Arrow (which `datasets.load_dataset("json", …)` uses) needs one type per column across all
 * rows, and TRL decides standard vs conversational from the first row, so a file is homogeneous:
 * one format, one style, the same keys in every row, `label` always a boolean, `content` always a
 * string. The schemas are strict: an extra key would become a column the trainer drops or chokes on.
 */
import { z } from "zod";

export const messageSchema = z
  .object({
    role: z.enum(["system", "user", "assistant", "tool"]),
    content: z.string(),
  })
  .strict();
export type Message = z.infer<typeof messageSchema>;

const text = z.string().min(1);
const turns = z.array(messageSchema).min(1);

/** Standard rows hold plain strings; conversational rows hold lists of chat messages. */
export type DatasetStyle = "standard" | "conversational";

function styled<S extends z.ZodRawShape, C extends z.ZodRawShape>(standard: S, conversational: C) {
  return {
    standard: z.object(standard).strict(),
    conversational: z.object(conversational).strict(),
  };
}

export const datasetFormats = {
  /** SFTTrainer, prompt-completion: loss on the completion only by default. */
  sft: styled({ prompt: text, completion: text }, { prompt: turns, completion: turns }),
  /** SFTTrainer, language modelling over whole conversations (chat interactions). */
  sftMessages: styled({ text }, { messages: turns }),
  /** DPOTrainer (and ORPO/CPO): two completions of one explicit prompt. */
  dpo: styled(
    { prompt: text, chosen: text, rejected: text },
    { prompt: turns, chosen: turns, rejected: turns },
  ),
  /** KTOTrainer, unpaired preference: `label` true = desirable, false = undesirable. */
  kto: styled(
    { prompt: text, completion: text, label: z.boolean() },
    { prompt: turns, completion: turns, label: z.boolean() },
  ),
  /** RewardTrainer, implicit prompt (recommended): each side is the whole exchange. */
  reward: styled({ chosen: text, rejected: text }, { chosen: turns, rejected: turns }),
  /** Scored completions (a rating normalised to [0, 1]) for reward-model regression. */
  rewardScore: styled(
    { prompt: text, completion: text, score: z.number().min(0).max(1) },
    { prompt: turns, completion: turns, score: z.number().min(0).max(1) },
  ),
  /** Negative examples for contrastive or unlikelihood training. */
  negatives: styled({ prompt: text, completion: text }, { prompt: turns, completion: turns }),
  /** Knowledge gaps for the RAG index: the question and the answer it should have found. */
  ragGaps: styled({ question: text, answer: text }, { question: text, answer: text }),
  /** Safety preference pairs: `chosen` is the safe answer, `rejected` the unsafe one. */
  safety: styled(
    { prompt: text, chosen: text, rejected: text },
    { prompt: turns, chosen: turns, rejected: turns },
  ),
} as const;

export type DatasetFormat = keyof typeof datasetFormats;
export const datasetFormatNames = Object.keys(datasetFormats) as DatasetFormat[];

/**
 * The one place a row is checked before it is written: returns the row (with keys in the
 * schema's order, so files are byte-stable) or throws with the offending path.
 */
export function validateRow(
  format: DatasetFormat,
  style: DatasetStyle,
  row: unknown,
): Record<string, unknown> {
  const schema = datasetFormats[format][style];
  const result = schema.safeParse(row);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new TypeError(
      `${format} (${style}) row is invalid at ${issue.path.join(".") || "(row)"}: ${issue.message}`,
    );
  }
  return result.data as Record<string, unknown>;
}
