import type { ServerInfo } from "../system.js";
import { builder } from "./builder.js";

export const StoreKind = builder.enumType("StoreKind", {
  description: "Which database this instance uses.",
  values: {
    EMBEDDED: {
      value: "embedded",
      description: "The built-in MongoDB-compatible store under DATA_DIR.",
    },
    MONGODB: { value: "mongodb", description: "An external MongoDB given by MONGODB_URI." },
  } as const,
});

export const ServerInfoRef = builder.objectRef<ServerInfo>("ServerInfo").implement({
  description: "Facts about this Loopgate instance.",
  fields: (t) => ({
    version: t.exposeString("version", { description: "Loopgate's version." }),
    startedAt: t.expose("startedAt", {
      type: "DateTime",
      description: "When this process started.",
    }),
    storeKind: t.field({
      type: StoreKind,
      description: "Which database this instance uses.",
      resolve: (info) => info.storeKind,
    }),
  }),
});
