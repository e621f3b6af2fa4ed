import { spawnSync } from "node:child_process";

export interface ToolRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Whether an executable is on PATH. */
export function hasTool(name: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;
}

const inCI = process.env.CI === "true" || process.env.CI === "1";

/**
 * Whether tests that need an external tool (promtool, amtool, prometheus from Debian's packages)
 * run: always in CI (.ci/run installs them, so a missing tool fails the test there), and on a
 * developer machine only when the tool is installed.
 */
export function toolTestsRun(name: string): boolean {
  return inCI || hasTool(name);
}

export function runTool(name: string, args: readonly string[], input?: string): ToolRun {
  const result = spawnSync(name, args, { encoding: "utf8", input, timeout: 120_000 });
  if (result.error) {
    throw new Error(
      `${name} could not run (${result.error.message}); install Debian's prometheus and prometheus-alertmanager packages (see .ci/run)`,
    );
  }
  return { status: result.status, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}
