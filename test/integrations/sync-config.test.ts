import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config.js";
import { useTestApp } from "../support/app.js";

/** Each integration is off until its credentials are set; a half-configured one stops the start. */
describe("integrations configuration", () => {
  it("turns an integration on only with its credentials", () => {
    const none = loadConfig({});
    expect(none.integrations.langsmith).toBeUndefined();
    expect(none.integrations.argilla).toBeUndefined();
    expect(none.integrations.labelstudio).toBeUndefined();
    const all = loadConfig({
      LANGSMITH_API_KEY: "lsv2_pt_x",
      ARGILLA_API_URL: "https://argilla.example.com",
      ARGILLA_API_KEY: "argilla.apikey",
      LABEL_STUDIO_URL: "https://ls.example.com",
      LABEL_STUDIO_API_KEY: "token",
    });
    expect(all.integrations.langsmith?.apiUrl).toBe("https://api.smith.langchain.com");
    expect(all.integrations.argilla).toMatchObject({ workspace: "loopgate", minSubmitted: 2 });
    expect(all.integrations.labelstudio).toMatchObject({
      maxAnnotations: 2,
      webhookHeader: "X-Loopgate-Webhook-Token",
    });
  });

  it("reports every problem at once", () => {
    let problems: readonly string[] = [];
    try {
      loadConfig({
        ARGILLA_API_KEY: "argilla.apikey",
        LABEL_STUDIO_URL: "not a url",
        LABEL_STUDIO_WEBHOOK_TOKEN: "short",
        LANGSMITH_PROJECT: "prod",
        ARGILLA_MIN_SUBMITTED: "0",
      });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    const named = problems.map((problem) => problem.split(":")[0]);
    expect(named).toEqual(
      expect.arrayContaining([
        "ARGILLA_API_URL",
        "LABEL_STUDIO_URL",
        "LABEL_STUDIO_WEBHOOK_TOKEN",
        "LANGSMITH_PROJECT",
        "ARGILLA_MIN_SUBMITTED",
        "LABEL_STUDIO_API_KEY",
      ]),
    );
  });
});

describe("integrations off", () => {
  const testApp = useTestApp();

  it("shows every integration as off, refuses a sync of one, and serves no webhook", async () => {
    const status = await testApp.gql(
      `{ integrations { name enabled directions { direction lastSuccessAt } } }`,
    );
    expect(
      status.data?.integrations.map((i: { name: string; enabled: boolean }) => [i.name, i.enabled]),
    ).toEqual([
      ["LANGSMITH", false],
      ["ARGILLA", false],
      ["LABELSTUDIO", false],
    ]);
    const sync = await testApp.gql(
      `mutation { syncIntegration(name: ARGILLA, direction: PUSH) { __typename ... on ValidationError { fields { path message } } } }`,
    );
    expect(sync.data?.syncIntegration.__typename).toBe("ValidationError");
    expect(await testApp.store.collections.jobs.countDocuments({})).toBe(0);
    const readOnly = await testApp.key(["read"]);
    const refused = await testApp.gql(
      `mutation { syncIntegration(name: ARGILLA, direction: PUSH) { __typename } }`,
      {},
      readOnly,
    );
    expect(
      refused.errors?.[0]?.extensions?.code ?? refused.data?.syncIntegration.__typename,
    ).toMatch(/FORBIDDEN|ForbiddenError/);
    for (const path of ["/hooks/argilla", "/hooks/labelstudio"]) {
      const response = await testApp.app.fetch(`http://localhost${path}`, {
        method: "POST",
        body: "{}",
      });
      expect(response.status).toBe(404);
    }
    const metrics = await (await testApp.app.fetch("http://localhost/metrics")).text();
    expect(metrics).toContain("# TYPE loopgate_integration_items_synced_total counter");
    expect(metrics).toContain("# TYPE loopgate_integration_sync_errors_total counter");
    expect(metrics).toContain("# TYPE loopgate_integration_sync_lag_seconds gauge");
  });
});
