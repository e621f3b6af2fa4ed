/**
 * Re-checks a condition until it holds or the deadline passes. Background work on a server (TTL
 * monitor, index builds) finishes whenever it finishes, so tests wait for the outcome instead of
 * sleeping a fixed time.
 */
export async function waitUntil(
  condition: () => Promise<boolean> | boolean,
  { timeoutMs, intervalMs = 250, what }: { timeoutMs: number; intervalMs?: number; what: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() >= deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
