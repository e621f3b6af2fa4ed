import type { Document } from "bson";

/** mongod's error codes for the failures this store can report; names match mongod's codeName. */
export const ErrorCode = {
  BadValue: 2,
  NoSuchKey: 4,
  FailedToParse: 9,
  Unauthorized: 13,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  PathNotViable: 28,
  ConflictingUpdateOperators: 40,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  ImmutableField: 66,
  CannotCreateIndex: 67,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  CommandNotSupported: 115,
  InvalidPipelineOperator: 168,
  CannotIndexParallelArrays: 171,
  UnsupportedOpQueryCommand: 352,
  DocumentValidationFailure: 121,
  BSONObjectTooLarge: 10334,
  DuplicateKey: 11000,
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

const NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

/** mongod names codes raised by assertion sites without a registered name "Location<code>". */
export function codeNameOf(code: number): string {
  return NAMES.get(code) ?? `Location${code}`;
}

/** A failure that becomes `{ ok: 0, errmsg, code, codeName }` (or a writeErrors entry). */
export class CommandError extends Error {
  readonly code: number;
  readonly codeName: string;
  /** Extra reply fields mongod adds for some errors, e.g. keyPattern/keyValue for 11000. */
  readonly extra: Document;

  constructor(code: number, message: string, extra: Document = {}) {
    super(message);
    this.name = "CommandError";
    this.code = code;
    this.codeName = codeNameOf(code);
    this.extra = extra;
  }

  toReply(): Document {
    return { ok: 0, errmsg: this.message, code: this.code, codeName: this.codeName, ...this.extra };
  }

  toWriteError(index: number): Document {
    return { index, code: this.code, errmsg: this.message, ...this.extra };
  }
}

export function commandError(name: ErrorCodeName, message: string, extra?: Document): CommandError {
  return new CommandError(ErrorCode[name], message, extra);
}

export function badValue(message: string): CommandError {
  return commandError("BadValue", message);
}
