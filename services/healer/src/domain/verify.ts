// Whether a remediation worked: every closed interval after the action, within the window, carried
// traffic at an error rate under the playbook's limit.
export type VerifyBucket = { startMs: number; calls: number; errors: number };

export type Verification = { done: false } | { done: true; ok: boolean; detail: string };

export const verifyErrorRate = (
  buckets: VerifyBucket[],
  input: { actedAtMs: number; windowSeconds: number; maxErrorRate: number; nowMs: number },
): Verification => {
  const after = buckets.filter((b) => b.startMs >= input.actedAtMs && b.calls > 0);
  const bad = after.find((b) => b.errors / b.calls > input.maxErrorRate);
  const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
  if (bad) return { done: true, ok: false, detail: `error rate ${pct(bad.errors / bad.calls)} after the action, above ${pct(input.maxErrorRate)}` };
  if (input.nowMs < input.actedAtMs + input.windowSeconds * 1000) return { done: false };
  if (after.length === 0) return { done: true, ok: false, detail: `no traffic in the ${input.windowSeconds} s after the action to verify with` };
  const calls = after.reduce((n, b) => n + b.calls, 0);
  const errors = after.reduce((n, b) => n + b.errors, 0);
  return { done: true, ok: true, detail: `error rate ${pct(errors / calls)} over ${calls} calls in ${after.length} intervals after the action` };
};
