import { describe, expect, it } from "vitest";
import { actorOf } from "../../src/auth/actor.js";
import { interactionInput, useTestApp } from "../support/app.js";

const testApp = useTestApp();

const PAGE = /* GraphQL */ `
  query Page($first: Int!) {
    interactions(first: $first, filter: { modelId: "n-plus-one" }) {
      edges {
        node {
          id
          conflict { id }
          feedback {
            id
            interaction { id model { version } }
            history { id }
            ... on ComparisonFeedback { a { interaction { id } } b { interaction { id } } }
          }
        }
      }
    }
  }
`;

/**
 * Commands the driver sent while one request ran (command monitoring), minus handshakes and the
 * credential check (its throttled lastUsedAt write depends on the clock, not on the page).
 */
async function commandsFor(first: number): Promise<string[]> {
  const start = testApp.commands.length;
  const result = await testApp.gql(PAGE, { first });
  expect(result.errors).toBeUndefined();
  expect(result.data?.interactions.edges).toHaveLength(first);
  return testApp.commands
    .slice(start)
    .filter((event) => event.command[event.commandName] !== "apiKeys")
    .map((event) => `${event.commandName}:${event.command[event.commandName]}`)
    .filter((name) => !/^(hello|isMaster|ismaster|ping|endSessions):/.test(name));
}

describe("walking the graph", () => {
  it("costs the same number of database round trips for a page of 10 and of 100 interactions", async () => {
    const inputs = Array.from({ length: 100 }, (_, index) =>
      interactionInput({
        query: `q${index}`,
        model: { id: "n-plus-one", version: `v${index % 3}` },
      }),
    );
    const recorded = await testApp.services.interactions.recordMany(inputs as never);
    const ids = recorded.map((item) => (item.ok ? item.value.interaction._id.toHexString() : ""));
    const principal = actorOf(
      await testApp.services.authenticate(
        new Headers({ authorization: `Bearer ${testApp.adminKey}` }),
      ),
    );
    for (const [index, id] of ids.entries()) {
      await testApp.services.feedback.submit(
        { kind: "binary", input: { interactionId: id, positive: index % 2 === 0 } },
        principal,
      );
      await testApp.services.feedback.submit(
        {
          kind: "binary",
          input: { interactionId: id, positive: index % 3 === 0, userId: `other-${index}` },
        },
        principal,
      );
      if (index % 10 === 0) {
        await testApp.services.feedback.submit(
          {
            kind: "comparison",
            input: {
              a: { interactionId: id },
              b: { interactionId: ids[(index + 1) % 100] ?? id },
              preferred: "a",
            },
          },
          principal,
        );
      }
    }

    // The writes' in-process remainders (conflict checks, marker clears) run right after their
    // answers; let them finish so only the page's own commands are counted.
    await testApp.services.outbox.drain();
    const small = await commandsFor(10);
    const large = await commandsFor(100);
    expect(large).toEqual(small);
    // One find for the page, then one batched query per relation, not one per node.
    expect(large.length).toBeLessThanOrEqual(8);
  });
});
