import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/**
 * The instance secret (token signatures, pseudonyms). Production must configure LOOPGATE_SECRET
 * (config enforces it); for local runs one is generated once and kept under DATA_DIR, so
 * pseudonyms and tokens stay stable across restarts.
 */
export async function resolveSecret(
  configured: string | undefined,
  dataDir: string,
): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, "secret");
  try {
    const stored = (await readFile(file, "utf8")).trim();
    if (stored.length >= 32) return stored;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const generated = randomBytes(32).toString("base64url");
  // "wx": never overwrite a secret another process wrote a moment ago.
  try {
    await writeFile(file, `${generated}\n`, { mode: 0o600, flag: "wx" });
    return generated;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST")
      return (await readFile(file, "utf8")).trim();
    throw error;
  }
}
