import type { Document } from "bson";
import { toNumber } from "./bson-numbers.js";
import { commandError } from "./errors.js";

/**
 * Server parameters reachable through getParameter/setParameter. Only the ones this store acts
 * on are settable; the others are reported with mongod's defaults so tools that read them work.
 */
export interface ServerParameters {
  get(name: string): unknown;
  all(): Document;
  /** Sets a parameter and returns its previous value. */
  set(name: string, value: unknown): unknown;
  onChange(listener: (name: string) => void): void;
}

type Validator = (value: unknown) => unknown;

const positiveInt =
  (name: string): Validator =>
  (value) => {
    const n = toNumber(value) ?? Number.NaN;
    if (typeof value === "boolean" || !Number.isInteger(n) || n < 1) {
      throw commandError("BadValue", `Invalid value for parameter ${name}: ${String(value)}`);
    }
    return n;
  };

const bool =
  (name: string): Validator =>
  (value) => {
    if (typeof value !== "boolean") {
      throw commandError("BadValue", `Invalid value for parameter ${name}: ${String(value)}`);
    }
    return value;
  };

const SETTABLE: Record<string, Validator> = {
  ttlMonitorSleepSecs: positiveInt("ttlMonitorSleepSecs"),
  ttlMonitorEnabled: bool("ttlMonitorEnabled"),
  cursorTimeoutMillis: positiveInt("cursorTimeoutMillis"),
  logLevel: (v) => toNumber(v) ?? 0,
};

export function createServerParameters(initial: Document = {}): ServerParameters {
  const values: Document = {
    ttlMonitorSleepSecs: 60,
    ttlMonitorEnabled: true,
    cursorTimeoutMillis: 600_000,
    logLevel: 0,
    featureCompatibilityVersion: { version: "7.0" },
    authenticationMechanisms: ["SCRAM-SHA-1", "SCRAM-SHA-256"],
    ...initial,
  };
  const listeners: ((name: string) => void)[] = [];
  return {
    get: (name) => values[name],
    all: () => ({ ...values }),
    set(name, value) {
      const validate = SETTABLE[name];
      if (!validate) {
        throw commandError(
          "InvalidOptions",
          `attempted to set unrecognized parameter [${name}], use help:true to see options `,
        );
      }
      const previous = values[name];
      values[name] = validate(value);
      for (const l of listeners) l(name);
      return previous;
    },
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
