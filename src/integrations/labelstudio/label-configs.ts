/**
 * Label Studio labeling configs for Loopgate's review kinds. Task data always carries `prompt`
 * and `response` (plus `answer1`/`answer2` for comparisons); result shapes per Label Studio's tag
 * docs: Rating → `{rating}`, Pairwise → `{selected: "left"|"right"}`, TextArea → `{text: [...]}`,
 * Choices → `{choices: [...]}`.
 */
const escapeXml = (value: string) =>
  value.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function ratingConfig(maxRating = 5): string {
  return `<View><Text name="prompt" value="$prompt"/><Text name="response" value="$response"/><Rating name="rating" toName="response" maxRating="${maxRating}" icon="star" required="true"/></View>`;
}

export function pairwiseConfig(): string {
  return `<View><Text name="prompt" value="$prompt"/><Pairwise name="comparison" toName="answer1,answer2"/><Text name="answer1" value="$answer1"/><Text name="answer2" value="$answer2"/></View>`;
}

/** The model's answer pre-filled for editing; the annotator's text is the correction. */
export function correctionConfig(): string {
  return `<View><Text name="prompt" value="$prompt"/><TextArea name="corrected" toName="prompt" value="$response" editable="true" maxSubmissions="1" rows="6"/></View>`;
}

export function choicesConfig(choices: readonly string[], name = "verdict"): string {
  const options = choices.map((choice) => `<Choice value="${escapeXml(choice)}"/>`).join("");
  return `<View><Text name="prompt" value="$prompt"/><Text name="response" value="$response"/><Choices name="${escapeXml(name)}" toName="response" choice="single" required="true">${options}</Choices></View>`;
}
