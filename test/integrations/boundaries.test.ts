import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/integrations");
const PROVIDERS = ["argilla", "labelstudio", "langsmith"];

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? files(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );
}

function imports(file: string): string[] {
  const source = readFileSync(file, "utf8");
  return [...source.matchAll(/(?:^|\n)\s*(?:import|export)[^;]*?from\s+"([^"]+)"/g)].map(
    (m) => m[1]!,
  );
}

describe("integration boundaries", () => {
  it("providers import only their own folder, the shared HTTP client and the clock; each sync imports only its provider", () => {
    const offenders: string[] = [];
    for (const file of files(root)) {
      const provider = relative(root, file).split("/")[0]!;
      for (const specifier of imports(file)) {
        if (!specifier.startsWith(".")) continue;
        const target = relative(root, resolve(dirname(file), specifier));
        // Outbound providers see only the shared client, the clock and their own folder; the
        // inbound alert webhook (alerts/) may use the store but no provider. The syncs (sync/)
        // join one provider to Loopgate each (`sync/<provider>-*.ts` import only that provider),
        // and sync/service.ts is the one module that composes them all.
        const path = relative(root, file);
        const syncOf = /^sync\/(argilla|labelstudio|langsmith)-/.exec(path)?.[1];
        const allowed = PROVIDERS.includes(provider)
          ? target === "http.js" || target === "../clock.js" || target.startsWith(`${provider}/`)
          : path === "sync/service.ts" ||
            !PROVIDERS.some((other) => other !== syncOf && target.startsWith(`${other}/`));
        if (!allowed) offenders.push(`${relative(root, file)} -> ${specifier}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it("each provider is present and talks to the network only through the shared client", () => {
    for (const provider of PROVIDERS) {
      const sources = files(join(root, provider)).map((file) => readFileSync(file, "utf8"));
      expect(sources.length).toBeGreaterThan(0);
      // A bare fetch would bypass timeouts, retries, the breaker and metrics.
      expect(sources.filter((source) => /\bfetch\(/.test(source))).toEqual([]);
    }
  });
});
