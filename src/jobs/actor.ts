/**
 * The named system actor a job runs as. A stand-in until `Actor` lands in src/auth/actor.ts (on
 * another branch); the shape matches its system variant so the merge only swaps the import.
 */
export interface SystemActor {
  readonly kind: "system";
  readonly name: string;
}

export const jobActor = (type: string): SystemActor => ({ kind: "system", name: `job:${type}` });
