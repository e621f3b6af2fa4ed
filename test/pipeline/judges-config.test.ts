import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { createAutomationTicks } from "../../src/pipeline/ticks.js";

const base = { NODE_ENV: "test" };

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ ...base, ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("JUDGES_CONFIG and AUDIT_CONFIG", () => {
  it("are off or defaulted when unset", () => {
    const config = loadConfig(base);
    expect(config.judges).toBeUndefined();
    expect(config.audit).toMatchObject({
      segments: [],
      threshold: 0.1,
      liveWindowHours: 24,
      refreshSeconds: 3600,
    });
  });

  it("fill defaults and resolve each judge's API key from its variable", () => {
    const config = loadConfig({
      ...base,
      MY_KEY: "sk-123",
      JUDGES_CONFIG: JSON.stringify({
        judges: [
          {
            type: "openai",
            name: "j1",
            baseUrl: "http://127.0.0.1:8000/v1",
            model: "m",
            apiKeyEnv: "MY_KEY",
          },
        ],
      }),
    });
    expect(config.judges).toMatchObject({
      enabled: true,
      sampleRate: 0.05,
      rubric: { id: "helpfulness", version: "1" },
      apiKeys: { j1: "sk-123" },
    });
  });

  it("report every problem together with the other variables'", () => {
    const found = problems({
      PORT: "-1",
      JUDGES_CONFIG: JSON.stringify({
        sampleRate: 2,
        rubric: { id: "has space", version: "1", instructions: "x" },
        judges: [
          { type: "openai", name: "a", baseUrl: "not a url", model: "m" },
          { type: "rules", name: "a" },
        ],
        rules: { banned: ["(unclosed"] },
      }),
      AUDIT_CONFIG: JSON.stringify({ segments: [{ name: "plan", path: "userId" }], threshold: 3 }),
    });
    const text = found.join("\n");
    expect(text).toContain("PORT");
    expect(text).toContain("JUDGES_CONFIG.sampleRate");
    expect(text).toContain("JUDGES_CONFIG.rubric.id");
    expect(text).toContain("JUDGES_CONFIG.judges.0.baseUrl");
    expect(text).toContain("judge names must differ");
    expect(text).toContain("valid regular expression");
    expect(text).toContain("AUDIT_CONFIG.segments.0.path");
    expect(text).toContain("AUDIT_CONFIG.threshold");
  });

  it("refuse malformed JSON, unknown fields and a missing API key variable", () => {
    expect(problems({ JUDGES_CONFIG: "{not json" }).join("\n")).toContain("must be a JSON object");
    expect(problems({ AUDIT_CONFIG: JSON.stringify({ segmentz: [] }) }).join("\n")).toContain(
      "AUDIT_CONFIG",
    );
    expect(
      problems({
        JUDGES_CONFIG: JSON.stringify({
          judges: [
            {
              type: "openai",
              name: "j",
              baseUrl: "http://x/v1",
              model: "m",
              apiKeyEnv: "ABSENT_KEY",
            },
          ],
        }),
      }),
    ).toEqual(["ABSENT_KEY: is required by judge j (JUDGES_CONFIG)"]);
  });
});

describe("automation ticks", () => {
  it("enqueue one keyed job per configured cadence, and nothing when off", async () => {
    const audit = loadConfig(base).audit;
    const judges = loadConfig({
      ...base,
      JUDGES_CONFIG: JSON.stringify({ intervalSeconds: 60 }),
    }).judges;
    const enqueued: Array<[string, string]> = [];
    const ticks = createAutomationTicks({
      judges,
      audit,
      enqueue: async (type, _payload, { key }) => {
        enqueued.push([type, key]);
      },
      failed: () => undefined,
    });
    for (const tick of ticks) tick.start();
    await Promise.all(ticks.map((tick) => tick.stop()));
    expect(enqueued.sort()).toEqual([
      ["audit.drift", "audit.drift"],
      ["rlaif.judge", "rlaif.judge"],
    ]);
    const none = createAutomationTicks({
      judges: loadConfig({ ...base, JUDGES_CONFIG: JSON.stringify({ enabled: false }) }).judges,
      audit: { ...audit, refreshSeconds: 0 },
      enqueue: async () => undefined,
      failed: () => undefined,
    });
    expect(none).toHaveLength(0);
  });
});
