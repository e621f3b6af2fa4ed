import { describe, expect, it } from "vitest";
import { validateRow } from "../../src/datasets/formats.js";

const user = { role: "user", content: "What color is the sky?" };
const blue = { role: "assistant", content: "It is blue." };
const green = { role: "assistant", content: "It is green." };

describe("TRL row formats", () => {
  it("accepts the rows TRL's documentation shows, in both styles", () => {
    expect(validateRow("sft", "standard", { prompt: "The sky is", completion: " blue." })).toEqual({
      prompt: "The sky is",
      completion: " blue.",
    });
    validateRow("sft", "conversational", { prompt: [user], completion: [blue] });
    validateRow("sftMessages", "conversational", { messages: [user, blue] });
    validateRow("dpo", "standard", { prompt: "The sky is", chosen: " blue.", rejected: " green." });
    validateRow("dpo", "conversational", { prompt: [user], chosen: [blue], rejected: [green] });
    validateRow("kto", "standard", { prompt: "The sky is", completion: " blue.", label: true });
    validateRow("kto", "conversational", { prompt: [user], completion: [green], label: false });
    validateRow("reward", "standard", {
      chosen: "The sky is blue.",
      rejected: "The sky is green.",
    });
    validateRow("reward", "conversational", { chosen: [user, blue], rejected: [user, green] });
  });

  it("puts keys in the format's order so identical inputs give identical bytes", () => {
    const row = validateRow("dpo", "standard", { rejected: "b", chosen: "a", prompt: "p" });
    expect(JSON.stringify(row)).toBe('{"prompt":"p","chosen":"a","rejected":"b"}');
  });

  it.each([
    ["a label that is not a boolean", "kto", { prompt: "p", completion: "c", label: "true" }],
    ["an extra column", "dpo", { prompt: "p", chosen: "a", rejected: "b", feedback_id: "x" }],
    ["a missing side", "dpo", { prompt: "p", chosen: "a" }],
    [
      "a null message content",
      "sft",
      { prompt: [{ role: "user", content: null }], completion: [blue] },
    ],
    ["a mixed-style row", "dpo", { prompt: "p", chosen: [blue], rejected: [green] }],
    ["an empty prompt", "sft", { prompt: "", completion: "c" }],
  ] as const)("refuses %s", (_what, format, row) => {
    const style = Array.isArray((row as { prompt?: unknown }).prompt)
      ? "conversational"
      : "standard";
    expect(() => validateRow(format, style, row)).toThrow(TypeError);
  });
});
