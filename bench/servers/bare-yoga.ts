/** Baseline: graphql-yoga with no plugins, executing a trivial mutation. */
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

let count = 0;
const yoga = createYoga({
  schema: createSchema({
    typeDefs: "type Query { ok: Boolean } type Mutation { ping(value: Int): Int }",
    resolvers: {
      Mutation: { ping: (_root: unknown, args: { value?: number }) => (args.value ?? 0) + ++count },
    },
  }),
  logging: false,
  landingPage: false,
  graphiql: false,
});
const server = createServer(yoga);
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  if (address && typeof address === "object") process.stdout.write(`listening ${address.port}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
