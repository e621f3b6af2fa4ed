import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The layering of README "Architecture", checked on every test run so an upward import fails CI:
 * resolvers → areas → store. dependency-cruiser would be the tool of choice, but it parses
 * TypeScript through the TypeScript compiler API (typescript < 7) or swc, and this project builds
 * with TypeScript 7, which has no such API; so the imports are read with a regular expression
 * (comments and strings aside, ESM import/export specifiers are regular enough for this).
 */
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const src = join(root, "src");

/** Domain areas: peers below the GraphQL layer and above the store. */
const areas = [
  "interactions",
  "feedback",
  "conflicts",
  "analytics",
  "privacy",
  "auth",
  "jobs",
  "pipeline",
  "datasets",
  "integrations",
];

interface Rule {
  readonly name: string;
  readonly from: RegExp;
  readonly to: RegExp;
}

const areaPattern = areas.join("|");
const rules: readonly Rule[] = [
  {
    name: "the store imports no area, no GraphQL layer and no wiring",
    from: /^store\/(?!embedded\/)/,
    to: new RegExp(`^(${areaPattern}|schema|resolvers|events|services|context|app|main)(/|\\.ts$)`),
  },
  {
    name: "the embedded store stands alone (it only speaks the wire protocol)",
    from: /^store\/embedded\//,
    to: new RegExp(`^(${areaPattern}|schema|resolvers|services|context|app|main)(/|\\.ts$)`),
  },
  {
    name: "schema/ never imports resolvers/",
    from: /^schema\//,
    to: /^resolvers\//,
  },
  {
    name: "areas know no GraphQL layer and no wiring",
    from: new RegExp(`^(${areaPattern})/`),
    to: /^(schema|resolvers|services|context|app|main)(\/|\.ts$)/,
  },
  {
    name: "areas know no GraphQL libraries",
    from: new RegExp(`^(${areaPattern})/`),
    to: /^(graphql|graphql-yoga|@pothos\/core)$/,
  },
  {
    name: "observability imports no area",
    from: /^observability\//,
    to: new RegExp(`^(${areaPattern}|schema|resolvers|services|context)(/|\\.ts$)`),
  },
  {
    name: "auth/ does not import feedback/",
    from: /^auth\//,
    to: /^feedback\//,
  },
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

const importPattern =
  /(?:^|\n)\s*(?:import|export)\s[^;]*?\bfrom\s*["']([^"']+)["']|(?:^|\n)\s*import\s*["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g;

/** Every import of `file`: src-relative paths for our modules, package names otherwise. */
function importsOf(file: string, text: string): string[] {
  const targets: string[] = [];
  for (const match of text.matchAll(importPattern)) {
    const specifier = match[1] ?? match[2] ?? match[3];
    if (!specifier) continue;
    if (specifier.startsWith(".")) {
      const target = resolve(dirname(file), specifier).replace(/\.js$/, ".ts");
      targets.push(relative(src, target));
    } else {
      targets.push(specifier);
    }
  }
  return targets;
}

function violations(edges: ReadonlyArray<readonly [string, string]>): string[] {
  return edges.flatMap(([from, to]) =>
    rules
      .filter((rule) => rule.from.test(from) && rule.to.test(to))
      .map((rule) => `${rule.name}: ${from} → ${to}`),
  );
}

const edges = sourceFiles(src).flatMap((file) =>
  importsOf(file, readFileSync(file, "utf8")).map(
    (to) => [relative(src, file), to] as [string, string],
  ),
);

describe("layering (README: Architecture)", () => {
  it("reads the imports it checks", () => {
    // The check sees real edges of each kind, so a broken parser cannot pass silently.
    expect(edges).toContainEqual(["resolvers/feedback.ts", "schema/feedback.ts"]);
    expect(edges).toContainEqual(["feedback/ingest.ts", "store/documents.ts"]);
    expect(edges).toContainEqual(["store/mongo.ts", "store/schema.ts"]);
    expect(edges).toContainEqual(["resolvers/index.ts", "resolvers/feedback.ts"]);
    expect(edges).toContainEqual(["store/mongo.ts", "mongodb"]);
  });

  it("has no upward import", () => {
    expect(violations(edges)).toEqual([]);
  });

  it("reports each kind of upward import", () => {
    expect(
      violations([
        ["store/schema.ts", "feedback/model.ts"],
        ["schema/index.ts", "resolvers/admin.ts"],
        ["feedback/ingest.ts", "context.ts"],
        ["observability/domain-metrics.ts", "feedback/events.ts"],
        ["auth/authenticate.ts", "feedback/tokens.ts"],
        ["conflicts/service.ts", "graphql"],
      ]),
    ).toHaveLength(6);
  });
});
