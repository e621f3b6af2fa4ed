import { readFile } from "node:fs/promises";
import {
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isUnionType,
  parse,
  validate,
} from "graphql";
import { describe, expect, it } from "vitest";
import { graphiqlTabs } from "../../src/graphiql-examples.js";
import { buildSchema, printSchemaSdl } from "../../src/resolvers/index.js";

describe("the GraphQL schema", () => {
  it("matches the committed schema.graphql (run `npm run schema:print` after changing it)", async () => {
    const committed = await readFile(new URL("../../schema.graphql", import.meta.url), "utf8");
    expect(
      committed === printSchemaSdl(),
      "schema.graphql is out of date: run npm run schema:print",
    ).toBe(true);
  });

  it("describes every type, field, argument and enum value for GraphiQL's docs", () => {
    const missing: string[] = [];
    for (const type of Object.values(buildSchema().getTypeMap())) {
      if (type.name.startsWith("__")) continue;
      const builtIn =
        isScalarType(type) && ["String", "Int", "Float", "Boolean", "ID"].includes(type.name);
      if (!builtIn && !type.description) missing.push(type.name);
      if (isObjectType(type) || isInterfaceType(type) || isInputObjectType(type)) {
        for (const field of Object.values(type.getFields())) {
          if (!field.description) missing.push(`${type.name}.${field.name}`);
          if ("args" in field) {
            for (const arg of field.args)
              if (!arg.description) missing.push(`${type.name}.${field.name}(${arg.name})`);
          }
        }
      }
      if (isEnumType(type)) {
        for (const value of type.getValues())
          if (!value.description) missing.push(`${type.name}.${value.name}`);
      }
      if (isUnionType(type) && type.getTypes().length === 0)
        missing.push(`${type.name} (empty union)`);
    }
    expect(missing).toEqual([]);
  });

  it("opens GraphiQL with example operations that are valid against the schema", () => {
    expect(graphiqlTabs.length).toBeGreaterThan(3);
    for (const tab of graphiqlTabs) {
      expect(validate(buildSchema(), parse(tab.query)).map((error) => error.message)).toEqual([]);
    }
  });
});
