import { MongoNetworkError, MongoServerError } from "mongodb";
import { describe, expect, it } from "vitest";
import { isStoreUnavailable } from "../../src/store/errors.js";

// Which failures the gateway answers as 503 UNAVAILABLE (retry later) rather than as a bug.

describe("store unavailability", () => {
  it("counts a socket the server closed as unavailable, even when the driver does not wrap it", () => {
    const epipe = Object.assign(new Error("This socket has been ended by the other party"), {
      code: "EPIPE",
    });
    expect(isStoreUnavailable(epipe)).toBe(true);
    expect(isStoreUnavailable(new Error("wrapped", { cause: epipe }))).toBe(true);
    expect(isStoreUnavailable(new MongoNetworkError("connection reset"))).toBe(true);
  });

  it("does not count other failures", () => {
    expect(isStoreUnavailable(new Error("bug"))).toBe(false);
    expect(isStoreUnavailable(Object.assign(new Error("no such file"), { code: "ENOENT" }))).toBe(
      false,
    );
    expect(isStoreUnavailable(new MongoServerError({ message: "dup", code: 11000 }))).toBe(false);
  });
});
