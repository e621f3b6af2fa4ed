import { createHash } from "node:crypto";

/**
 * A row's place in [0, 1) from its stable id and the snapshot's seed: the same row lands in the
 * same split in every rebuild, whatever else the snapshot holds, and a different seed reshuffles.
 */
export function splitPoint(stableId: string, seed: number): number {
  const digest = createHash("sha256").update(`${seed}:${stableId}`).digest();
  // 48 bits: exact in a double, and plenty of resolution for any fraction.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export function splitOf(stableId: string, seed: number, evalFraction: number): "train" | "eval" {
  return splitPoint(stableId, seed) < evalFraction ? "eval" : "train";
}
