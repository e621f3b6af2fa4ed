import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "../observability/logger.js";
import { bootstrapActor } from "./actor.js";
import type { ApiKeyService } from "./api-keys.js";

export interface BootstrapOptions {
  readonly apiKeys: ApiKeyService;
  readonly logger: Logger;
  readonly production: boolean;
  readonly dataDir: string;
  /** LOOPGATE_BOOTSTRAP_ADMIN_KEY, when the operator provisions the first key. */
  readonly configuredKey: string | undefined;
  /** An interactive terminal to show a generated key on; absent when output is piped. */
  readonly terminal?: { write(text: string): unknown } | undefined;
}

export class BootstrapError extends Error {}

const adminScopes = ["ingest", "read", "admin"] as const;

/**
 * Makes sure somebody can administer a fresh install without ever running open:
 * - an operator-provided key (LOOPGATE_BOOTSTRAP_ADMIN_KEY) is installed, hashed, idempotently;
 * - otherwise, outside production, the first start generates an admin key, saves it to
 *   DATA_DIR/admin-key (mode 0600) for local tools and shows it once on an interactive terminal;
 * - in production with no keys at all, start-up fails: there is no silent default credential.
 */
export async function ensureBootstrapKey(options: BootstrapOptions): Promise<{ file?: string }> {
  const { apiKeys, logger } = options;
  if (options.configuredKey) {
    await apiKeys.install(options.configuredKey, {
      name: "bootstrap admin",
      scopes: [...adminScopes],
    });
    return {};
  }
  if ((await apiKeys.countActive()) > 0) return {};
  if (options.production) {
    throw new BootstrapError(
      "no API keys exist: set LOOPGATE_BOOTSTRAP_ADMIN_KEY to provision the first admin key",
    );
  }
  const { secret } = await apiKeys.create(
    { name: "local admin", scopes: [...adminScopes] },
    bootstrapActor,
  );
  await mkdir(options.dataDir, { recursive: true });
  const file = join(options.dataDir, "admin-key");
  // writeFile's mode only applies to new files: a leftover file (e.g. 0644) would keep its mode.
  await rm(file, { force: true });
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: "wx" });
  // The key goes to the file, never into the JSON log, which is usually shipped elsewhere. On an
  // interactive terminal it is also shown once, for the quick start.
  logger.warn({ file }, "created the first admin API key and saved it to the file (mode 0600)");
  if (options.terminal)
    options.terminal.write(`\nLoopgate admin API key (shown once): ${secret}\n\n`);
  return { file };
}
