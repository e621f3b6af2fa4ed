/**
 * Reads a Prometheus text exposition into `name{label="value",...}` → value, labels sorted by
 * name, so tests look samples up without caring about label order.
 */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!match) continue;
    const [, name, labelText = "", value] = match;
    const labels = [...labelText.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)]
      .map(([, label, labelValue]) => `${label}="${labelValue}"`)
      .sort();
    samples.set(labels.length ? `${name}{${labels.join(",")}}` : name!, Number(value));
  }
  return samples;
}

/** `sample(samples, "name", { a: "x" })` → the value, or undefined when the series is absent. */
export function sample(
  samples: Map<string, number>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const sorted = Object.entries(labels)
    .map(([label, value]) => `${label}="${value}"`)
    .sort();
  return samples.get(sorted.length ? `${name}{${sorted.join(",")}}` : name);
}
