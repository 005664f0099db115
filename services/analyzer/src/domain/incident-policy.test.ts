// The incident policy, given/when/then: given the passes so far, when this interval's observations
// arrive, then these incident commands (and nothing else) come out.
import { describe, expect, it } from 'vitest';
import type { Edge, TopologyView } from './correlation/topology.ts';
import { decidePass, defaultPolicySettings, initialPolicyState, type Observation, type PassResult, type PolicyContext, type PolicyState } from './incident-policy.ts';

const res = 10_000;
const t0 = 1_800_000_000_000;
const bucket = (n: number) => t0 + n * res;

const graph = (pairs: string[]): TopologyView => {
  const list = pairs.map((p) => p.split('>') as [string, string]);
  return {
    downstreamOf: (s) => list.filter(([a]) => a === s).map(([, b]) => b),
    upstreamOf: (s) => list.filter(([, b]) => b === s).map(([a]) => a),
    edges: (): Edge[] => list.map(([caller, callee]) => ({ caller, callee, calls: 100, errors: 0, errorRate: 0, lastSeenMs: 0 })),
  };
};
const fleet = graph(['planner>researcher', 'researcher>coder', 'coder>reviewer']);
/**
 * Most rules below are about relating signals, not confirming them: their error rates page at once
 * (the default needs two bad intervals, or one with a new error signature: tested on its own below).
 */
const atOnce = [{ signal: 'error_rate', role: 'symptom' as const, bad: 'up' as const, severity: 'critical' as const, minRelativeChange: 0, confirmIntervals: 1 }];
const context: PolicyContext = { topology: fleet, traces: () => [], settings: { ...defaultPolicySettings(res), meanings: atOnce } };
const defaults = { ...context, settings: defaultPolicySettings(res) };

const obs = (service: string, signal: string, n: number, value: number, baseline: number, extra: Partial<Observation> = {}): Observation => ({
  service,
  signal,
  bucketStartMs: bucket(n),
  value,
  baseline,
  summary: `${signal} ${value} vs usual ${baseline}`,
  explanation: { detector: 'test', baseline },
  ...extra,
});
const errors = (service: string, n: number, extra: Partial<Observation> = {}) => obs(service, 'error_rate', n, 0.5, 0.01, { calls: 100, errors: 50, ...extra });

/** Runs passes: each entry is the observations of interval n (the pass at its end). */
const run = (passes: Array<[number, Observation[]]>, state: PolicyState = initialPolicyState(), ctx = context) => {
  const results: PassResult[] = [];
  for (const [n, observations] of passes) {
    const result = decidePass(state, observations, bucket(n) + res, ctx);
    results.push(result);
    state = result.state;
  }
  return { results, state, commands: results.flatMap((r) => r.commands), types: (i: number) => results[i]!.commands.map((c) => c.type) };
};
const count = (r: ReturnType<typeof run>, type: string) => r.commands.filter((c) => c.type === type).length;

describe('incident policy', () => {
  it('opens one incident for an error-rate symptom, at once, and refreshes it while it lasts', () => {
    const r = run([[0, [errors('researcher', 0)]], [1, [errors('researcher', 1)]], [2, [errors('researcher', 2)]]]);
    expect(count(r, 'OpenIncident')).toBe(1);
    expect(r.results[0]!.commands[0]).toMatchObject({ type: 'OpenIncident', service: 'researcher', signal: 'error_rate', severity: 'critical', direction: 'above', labels: { alertname: 'ErrorRateHigh' } });
    expect(r.results[1]!.decisions[0]).toMatchObject({ decision: 'refreshed' });
  });

  it('ignores a signal on the good side of its baseline: a drop in token usage never opens anything', () => {
    const r = run([[0, [obs('coder', 'gen_ai.output_tokens', 0, 613, 615)]], [1, [obs('coder', 'gen_ai.output_tokens', 1, 300, 615)]]]);
    expect(r.commands).toEqual([]);
    expect(r.results[1]!.decisions[0]).toMatchObject({ decision: 'ignored' });
  });

  it('records cause and resource signals as evidence: they never page alone', () => {
    const r = run([
      [0, [obs('coder', 'gen_ai.output_tokens', 0, 9000, 600), obs('coder', 'process.memory.usage', 0, 9e8, 3e8)]],
      [1, [obs('coder', 'gen_ai.output_tokens', 1, 9000, 600), obs('coder', 'process.memory.usage', 1, 9e8, 3e8)]],
    ]);
    expect(r.commands).toEqual([]);
    expect(r.results[0]!.decisions.map((d) => d.decision), JSON.stringify(r.results[0]!.decisions)).toEqual(['recorded', 'recorded']);
  });

  it('opens a statistical symptom only once it held for two intervals, and attaches the evidence recorded before', () => {
    // +80 %: past the meaningful 50 %, short of the threefold that needs no confirmation.
    const r = run([
      [0, [obs('coder', 'gen_ai.cost_per_success_usd', 0, 0.0018, 0.001), obs('coder', 'gen_ai.output_tokens', 0, 9000, 600)]],
      [1, [obs('coder', 'gen_ai.cost_per_success_usd', 1, 0.0018, 0.001)]],
    ]);
    expect(r.types(0)).toEqual([]);
    expect(r.types(1)).toEqual(['OpenIncident', 'AttachSignal', 'RankRootCauses']);
    expect(r.results[1]!.commands[1]).toMatchObject({ signal: 'gen_ai.output_tokens', service: 'coder' });
  });

  it('pages at once on a move past the meaning\'s confirm-at-once change, or on a level that spans its intervals already', () => {
    // Mean LLM latency at 11 times its usual (past threefold): the first interval pages.
    const spike = run([[0, [obs('coder', 'gen_ai.client.operation.duration', 0, 9000, 800)]]]);
    expect(spike.types(0)[0]).toBe('OpenIncident');
    expect(spike.results[0]!.decisions.find((d) => d.decision === 'opened')!.reason).toMatch(/1025 % off its baseline in one interval \(past 200 %\)/);
    // A quantile has no such rule: its single interval waits, however far off.
    expect(count(run([[0, [obs('coder', 'latency.p95_ms', 0, 9000, 800)]]]), 'OpenIncident')).toBe(0);
    // A level-shift verdict over 4 intervals confirms itself at +60 %.
    const creep = run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1280, 800, { confirmedOver: 4 })]]]);
    expect(creep.results[0]!.decisions.find((d) => d.decision === 'opened')!.reason).toBe("symptom's level off its baseline over its last 4 intervals");
    // The same +60 % from a single-interval detector waits for a second interval.
    expect(count(run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1280, 800)]]]), 'OpenIncident')).toBe(0);
  });

  it('pages a latency creep still climbing at its meaning\'s lower bar (+30 %), and nothing else that moved that little', () => {
    const level = (onset?: 'sudden' | 'gradual') => ({ confirmedOver: 3, explanation: { detector: 'level-shift', baseline: 800, ...(onset ? { onset } : {}) } });
    // +35 %, the level-shift test's gradual climb: pages, and says it is a creep's level.
    const creep = run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1080, 800, level('gradual'))]]]);
    expect(creep.types(0)[0]).toBe('OpenIncident');
    // The same +35 % reached in a step, or from a single-interval detector: under the usual 50 %.
    expect(count(run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1080, 800, level('sudden'))]]]), 'OpenIncident')).toBe(0);
    expect(count(run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1080, 800)]], [1, [obs('reviewer', 'gen_ai.client.operation.duration', 1, 1080, 800)]]]), 'OpenIncident')).toBe(0);
    // +25 % creeping: under the creep's bar too.
    expect(count(run([[0, [obs('reviewer', 'gen_ai.client.operation.duration', 0, 1000, 800, level('gradual'))]]]), 'OpenIncident')).toBe(0);
    // A signal whose meaning has no creep bar (cost per call): a creep must reach the usual 50 %.
    expect(count(run([[0, [obs('coder', 'gen_ai.cost_per_success_usd', 0, 0.000135, 0.0001, level('gradual'))]]]), 'OpenIncident')).toBe(0);
  });

  it('a latency blip of one interval pages nobody', () => {
    const r = run([[0, [obs('coder', 'latency.p95_ms', 0, 900, 300)]], [1, []], [2, []], [3, [obs('coder', 'latency.p95_ms', 3, 900, 300)]], [4, []]]);
    expect(count(r, 'OpenIncident')).toBe(0);
  });

  it('ignores a symptom that moved less than its meaning asks (613 vs usual 615 is not a latency fault)', () => {
    const r = run([[0, [obs('coder', 'latency.p95_ms', 0, 320, 300)]], [1, [obs('coder', 'latency.p95_ms', 1, 320, 300)]]]);
    expect(r.commands).toEqual([]);
  });

  it('puts a cascade into one incident: the callers join the root cause, whichever order the signals come in', () => {
    const cascade = [errors('planner', 0), errors('researcher', 0), errors('coder', 0)];
    const forward = run([[0, cascade]]);
    const backward = run([[0, [...cascade].reverse()]]);
    expect(count(forward, 'OpenIncident')).toBe(1);
    expect(count(forward, 'AttachSignal')).toBe(2);
    expect(forward.commands).toEqual(backward.commands);
    const ranked = forward.commands.find((c) => c.type === 'RankRootCauses');
    expect(ranked && ranked.type === 'RankRootCauses' && ranked.candidates[0]!.service).toBe('coder');
  });

  it('attaches a later related signal to the open incident instead of paging again', () => {
    const r = run([[0, [errors('coder', 0)]], [1, [errors('coder', 1), errors('researcher', 1)]], [2, [errors('planner', 2)]]]);
    expect(count(r, 'OpenIncident')).toBe(1);
    expect(r.commands.filter((c) => c.type === 'AttachSignal').map((c) => c.type === 'AttachSignal' && c.service)).toEqual(['researcher', 'planner']);
  });

  it('opens a second incident for an unrelated fault', () => {
    const lonely = graph(['planner>researcher']);
    const r = run([[0, [errors('planner', 0), errors('billing', 0)]]], initialPolicyState(), { ...context, topology: lonely });
    expect(count(r, 'OpenIncident')).toBe(2);
  });

  it('records the settled ranking once, one interval of event time after opening', () => {
    const r = run([[0, [errors('coder', 0)]], [1, [errors('coder', 1)]], [2, [errors('coder', 2)]]]);
    const ranked = r.commands.filter((c) => c.type === 'RankRootCauses');
    expect(ranked.map((c) => c.type === 'RankRootCauses' && (c.settled ?? false))).toEqual([false, true]);
    expect(ranked[1]!.at).toBe(new Date(bucket(1) + res).toISOString());
  });

  it('resolves after every symptom stayed quiet for the quiet intervals, while evidence alone keeps nothing open', () => {
    const tokens = obs('coder', 'gen_ai.output_tokens', 1, 9000, 600);
    // Quiet for 4 intervals after the last bad one (1): resolved at 5, not before.
    const tokensAt = (n: number) => ({ ...tokens, bucketStartMs: bucket(n) });
    const r = run([[0, [errors('coder', 0)]], [1, [errors('coder', 1), tokens]], [2, [tokensAt(2)]], [3, [tokensAt(3)]], [4, [tokensAt(4)]], [5, [tokensAt(5)]]]);
    expect([2, 3, 4].flatMap((n) => r.types(n))).not.toContain('ResolveIncident');
    expect(r.types(5)).toContain('ResolveIncident');
    expect(r.state.open).toEqual([]);
  });

  it('keeps an incident open while its signal is still off its baseline (hysteresis) and reopens a recurrence within the window', () => {
    const sustain = (n: number) => errors('coder', n, { value: 0.08, sustainOnly: true });
    const r = run([[0, [errors('coder', 0)]], [1, [sustain(1)]], [2, [sustain(2)]], [3, []], [4, []], [5, []], [6, []], [7, [errors('coder', 7)]]]);
    expect([3, 4, 5].flatMap((n) => r.types(n))).toEqual([]);
    expect(r.types(6)).toContain('ResolveIncident');
    expect(r.types(7)[0]).toBe('ReopenIncident');
    expect(count(r, 'OpenIncident')).toBe(1);
  });

  it('reopens a recurrence that pages on another symptom the incident held: the burn rate first this time, the error rate the next', () => {
    const burn = (service: string, n: number) => obs(service, 'burn_rate.availability', n, 25, 1);
    const meanings = [...atOnce, { signal: 'burn_rate.*', role: 'symptom' as const, bad: 'up' as const, severity: 'critical' as const, minRelativeChange: 0, confirmIntervals: 1 }];
    const ctx = { ...context, settings: { ...context.settings, meanings } };
    // Opened on the fast burn, the error rate joined; both quiet, resolved; the fault comes back and the error rate pages first.
    const r = run([[0, [burn('coder', 0), errors('coder', 0)]], [1, []], [2, []], [3, []], [4, []], [5, []], [6, [errors('coder', 6)]]], initialPolicyState(), ctx);
    expect(r.results[0]!.commands[0]).toMatchObject({ type: 'OpenIncident', signal: 'burn_rate.availability' });
    expect(count(r, 'ResolveIncident')).toBe(1);
    expect(r.types(6)[0]).toBe('ReopenIncident');
    expect(count(r, 'OpenIncident')).toBe(1);
    // Another service's error rate is not that incident's recurrence.
    const other = run([[0, [burn('coder', 0), errors('coder', 0)]], [1, []], [2, []], [3, []], [4, []], [5, []], [6, [errors('reviewer', 6)]]], initialPolicyState(), ctx);
    expect(other.types(6)[0]).toBe('OpenIncident');
  });

  it('keeps firing through a dip shorter than the quiet intervals: a developing fault that comes back is the same incident, not a second page', () => {
    const r = run([[0, [errors('coder', 0)]], [1, [errors('coder', 1)]], [2, []], [3, []], [4, []], [5, [errors('coder', 5)]]]);
    expect(count(r, 'ResolveIncident')).toBe(0);
    expect(count(r, 'ReopenIncident')).toBe(0);
    expect(count(r, 'OpenIncident')).toBe(1);
  });

  it('raises the severity instead of paging again when a critical symptom joins a warning incident', () => {
    const slow = (n: number) => obs('coder', 'gen_ai.client.operation.duration', n, 1300, 800);
    const r = run([[0, [slow(0)]], [1, [slow(1)]], [2, [slow(2), errors('planner', 2)]]]);
    expect(count(r, 'OpenIncident')).toBe(1);
    expect(r.results[1]!.commands[0]).toMatchObject({ type: 'OpenIncident', severity: 'warning' });
    expect(r.types(2)).toEqual(['AttachSignal', 'ChangeSeverity', 'RankRootCauses']);
  });

  it('pages a failure prediction only inside the horizon with enough confidence', () => {
    const predicted = (n: number, eta: number, confidence: number) => obs('reviewer', 'failure.predicted', n, 9e8, 1e9, { etaSeconds: eta, confidence });
    const far = run([[0, [predicted(0, 7200, 0.99)]]]);
    const unsure = run([[0, [predicted(0, 300, 0.5)]]]);
    const near = run([[0, [predicted(0, 300, 0.95)]]]);
    expect(far.commands).toEqual([]);
    expect(unsure.commands).toEqual([]);
    expect(near.types(0)[0]).toBe('OpenIncident');
    expect(near.results[0]!.decisions[0]!.reason).toMatch(/limit predicted in 300 s/);
  });

  it("pages no latency raised by one slow call: the change is judged on the others' mean, where the detector's level says so", () => {
    // Given a healthy vector store whose interval means jump by 75 % when one of a dozen calls is slow.
    const tail = (n: number) => obs('vector-db', 'latency.mean_ms{GET /search}', n, 21, 12, { level: 12.2 });
    const slowdown = (n: number) => obs('vector-db', 'latency.mean_ms{GET /search}', n, 60, 12, { level: 59 });
    // When two intervals in three carry a slow call, then every call gets five times slower.
    const r = run([[0, [tail(0)]], [1, [tail(1)]], [2, []], [3, [tail(3)]], [4, [slowdown(4)]], [5, [slowdown(5)]]], initialPolicyState(), defaults);
    // Then only the slowdown pages, and the tail's decisions say why not.
    expect(r.types(0)).toEqual([]);
    expect(r.types(3)).toEqual([]);
    expect(count(r, 'OpenIncident')).toBe(1);
    expect(r.types(5)[0]).toBe('OpenIncident');
    expect(r.results[1]!.decisions[0]).toMatchObject({ decision: 'ignored', reason: "its largest value alone moved it: the others' mean 12.2 is not 50 % off its baseline 12" });
  });

  it('keeps a prediction short of the bar out of an incident opened later on its service: no OOM playbook for memory noise', () => {
    // Given a healthy agent's memory noise fitted as a far, unsure ramp, then that agent's latency paging.
    const unsure = obs('coder', 'failure.predicted', 0, 9e8, 1e9, { etaSeconds: 1500, confidence: 0.6 });
    const latency = (n: number) => obs('coder', 'latency.mean_ms', n, 900, 400);
    // When the policy judges them.
    const r = run([[0, [unsure, latency(0)]], [1, [latency(1)]], [2, [latency(2)]]]);
    // Then the incident holds the latency alone; the forecast was ignored, and says why.
    expect(r.types(2).includes('OpenIncident') || r.types(1).includes('OpenIncident')).toBe(true);
    const attached = r.commands.filter((c) => c.type === 'OpenIncident' || c.type === 'AttachSignal').map((c) => ('signal' in c ? c.signal : ''));
    expect(attached).not.toContain('failure.predicted');
    expect(r.results[0]!.decisions.find((d) => d.signal === 'failure.predicted')).toMatchObject({ decision: 'ignored', reason: 'prediction confidence 0.60 under 0.9: a forecast, not a fault' });
  });

  it('lets config override a meaning: a team that pages on a gauge says so', () => {
    const settings = { ...defaultPolicySettings(res), meanings: [{ signal: 'queue.depth', role: 'symptom' as const, bad: 'up' as const, severity: 'critical' as const, minRelativeChange: 1, confirmIntervals: 1 }] };
    const r = run([[0, [obs('worker', 'queue.depth', 0, 400, 100)]]], initialPolicyState(), { ...context, settings });
    expect(r.types(0)[0]).toBe('OpenIncident');
  });

  it('keeps a neighbour\'s cause signal out: a drop in calls downstream is neither evidence nor the root cause', () => {
    const r = run([[0, [errors('researcher', 0), errors('planner', 0), obs('coder', 'calls', 0, 10, 100), obs('researcher', 'gen_ai.errors', 0, 60, 1)]]]);
    const attached = r.commands.filter((c) => c.type === 'AttachSignal').map((c) => c.type === 'AttachSignal' && `${c.service} ${c.signal}`);
    expect(attached.sort()).toEqual(['planner error_rate', 'researcher gen_ai.errors'].sort());
    const ranked = r.commands.find((c) => c.type === 'RankRootCauses');
    expect(ranked && ranked.type === 'RankRootCauses' && ranked.candidates.map((c) => c.service)).not.toContain('coder');
    expect(r.results[0]!.decisions.find((d) => d.service === 'coder')).toMatchObject({ decision: 'recorded' });
  });

  it('says why each signal joined, in words', () => {
    const r = run([[0, [errors('coder', 0), errors('researcher', 0), obs('coder', 'gen_ai.output_tokens', 0, 9000, 600)]]]);
    const reasons = Object.fromEntries(r.commands.filter((c) => c.type === 'AttachSignal').map((c) => [c.type === 'AttachSignal' && `${c.service} ${c.signal}`, c.type === 'AttachSignal' && c.reason]));
    expect(reasons['researcher error_rate']).toBe('topology neighbour of coder (1 hop), in the same interval');
    expect(reasons['coder gen_ai.output_tokens']).toBe("same service as the incident's symptom on coder");
  });

  it('does not let a long-running incident absorb a neighbour\'s new fault minutes later', () => {
    const slow = (n: number) => obs('coder', 'latency.p95_ms', n, 900, 300);
    const passes: Array<[number, Observation[]]> = Array.from({ length: 30 }, (_, n) => [n, [slow(n)]]);
    passes.push([30, [slow(30), errors('researcher', 30)]]);
    const r = run(passes);
    const opened = r.commands.filter((c) => c.type === 'OpenIncident').map((c) => c.type === 'OpenIncident' && `${c.service} ${c.signal}`);
    expect(opened).toEqual(['coder latency.p95_ms', 'researcher error_rate']);
  });

  it('lets a caller whose latency follows its still-slow callee minutes later join that incident: the fault propagating, one page', () => {
    // The reviewer's latency creeps; its detector adapts, but the interval stays off the frozen baseline.
    const slow = (n: number) => obs('reviewer', 'latency.p95_ms', n, 900 + n * 10, 300, n >= 2 ? { sustainOnly: true } : {});
    const passes: Array<[number, Observation[]]> = Array.from({ length: 20 }, (_, n) => [n, [slow(n)]]);
    passes.push([20, [slow(20), obs('coder', 'latency.p95_ms', 20, 1500, 400)]], [21, [slow(21), obs('coder', 'latency.p95_ms', 21, 1600, 400)]]);
    const r = run(passes, initialPolicyState(), defaults);
    expect(r.commands.filter((c) => c.type === 'OpenIncident').map((c) => c.type === 'OpenIncident' && c.service)).toEqual(['reviewer']);
    const joined = r.commands.find((c) => c.type === 'AttachSignal' && c.service === 'coder');
    expect(joined).toMatchObject({ reason: 'coder calls reviewer (1 hop), whose latency.p95_ms is still off its baseline in this incident: the fault propagating' });
    expect(count(r, 'ResolveIncident')).toBe(0);
  });

  it('does not join a caller to a callee whose symptom has recovered, nor a callee to its caller', () => {
    const slowCoder = (n: number) => obs('coder', 'latency.p95_ms', n, 900, 300);
    // The coder recovered after interval 3; the researcher (its caller) slows down later: a fault of its own.
    const later = [[10, [obs('researcher', 'latency.p95_ms', 10, 900, 300)]], [11, [obs('researcher', 'latency.p95_ms', 11, 900, 300)]]] as Array<[number, Observation[]]>;
    const quiet = Array.from({ length: 10 }, (_, i): [number, Observation[]] => [i + 4, []]);
    const r = run([[0, [slowCoder(0)]], [1, [slowCoder(1)]], [2, [slowCoder(2)]], [3, [slowCoder(3)]], ...quiet, ...later.map(([n, o]): [number, Observation[]] => [n + 4, o.map((x) => ({ ...x, bucketStartMs: bucket(n + 4) }))])], initialPolicyState(), defaults);
    expect(r.commands.filter((c) => c.type === 'OpenIncident').map((c) => c.type === 'OpenIncident' && c.service)).toEqual(['coder', 'researcher']);
    // The reviewer (the coder's callee) slowing down while the coder is still slow is not the coder's fault.
    // (Minutes after the coder's onset: within the first window, a neighbour joins as part of the cascade.)
    const steady: Array<[number, Observation[]]> = Array.from({ length: 15 }, (_, n) => [n, [slowCoder(n)]]);
    const callee = run([...steady, [15, [slowCoder(15), obs('reviewer', 'latency.p95_ms', 15, 900, 300)]], [16, [slowCoder(16), obs('reviewer', 'latency.p95_ms', 16, 900, 300)]]], initialPolicyState(), defaults);
    expect(callee.commands.filter((c) => c.type === 'OpenIncident').map((c) => c.type === 'OpenIncident' && c.service)).toEqual(['coder', 'reviewer']);
  });

  it('attaches a caller\'s errors while the healer restarts its callee to the incident being remediated: the action, not a second fault', () => {
    const predicted = (n: number) => obs('reviewer', 'failure.predicted', n, 900, 1000, { etaSeconds: 600, confidence: 0.99 });
    const first = run([[0, [predicted(0)]], [1, [predicted(1)]]]);
    const incidentId = first.commands.find((c) => c.type === 'OpenIncident')!.incidentId;
    const restart = { remediationId: 'r1', incidentId, service: 'reviewer', playbookId: 'restart-before-out-of-memory', startedAtMs: bucket(2) + 1000 };
    // The planner calls the reviewer three calls down; its calls fail while the reviewer restarts.
    const during = run([[3, [errors('planner', 3)]]], first.state, { ...context, remediations: [restart] });
    expect(count(during, 'OpenIncident')).toBe(0);
    expect(during.commands.find((c) => c.type === 'AttachSignal')).toMatchObject({
      incidentId,
      service: 'planner',
      reason: 'planner is a caller 3 calls up of reviewer while restart-before-out-of-memory acts on it: an effect of the remediation, not a new fault',
    });
    // The prediction went quiet with the restart, but the incident waits for the action to end.
    const quiet = run([[4, []], [5, []], [6, []]], during.state, { ...context, remediations: [restart] });
    expect(count(quiet, 'ResolveIncident')).toBe(0);
    const ended = run([[7, []], [8, []], [9, []], [10, []], [11, []]], quiet.state, { ...context, remediations: [{ ...restart, endedAtMs: bucket(7) }] });
    expect(count(ended, 'ResolveIncident')).toBe(1);
    // Long after the action ended, the same errors are a fault of their own.
    const later = run([[40, [errors('planner', 40)]]], first.state, { ...context, remediations: [{ ...restart, endedAtMs: bucket(4) }] });
    expect(count(later, 'OpenIncident')).toBe(1);
    // And a service that does not call the reviewer is not excused.
    const lonely = run([[3, [errors('billing', 3)]]], first.state, { ...context, remediations: [restart] });
    expect(count(lonely, 'OpenIncident')).toBe(1);
  });

  it('records, does not page, a spend signal moving on an agent within the reopen window after a remediation on it ended (a fallback model costs more)', () => {
    const first = run([[0, [errors('researcher', 0)]], [1, [errors('researcher', 1)]]]);
    expect(count(first, 'OpenIncident')).toBe(1);
    const incidentId = first.commands.find((c) => c.type === 'OpenIncident')!.incidentId;
    const fallback = { remediationId: 'r1', incidentId, service: 'researcher', playbookId: 'fallback-model-on-provider-outage', startedAtMs: bucket(2), endedAtMs: bucket(4) };
    const quiet = run([[5, []], [6, []], [7, []], [8, []], [9, []], [10, []]], first.state, { ...context, remediations: [fallback] });
    expect(count(quiet, 'ResolveIncident')).toBe(1);
    const pricier = (n: number) => obs('researcher', 'gen_ai.cost_per_success_usd', n, 0.0003, 0.0001);
    const after = run([[12, [pricier(12)]], [13, [pricier(13)]], [14, [pricier(14)]]], quiet.state, { ...context, remediations: [fallback] });
    expect(count(after, 'ReopenIncident') + count(after, 'OpenIncident')).toBe(0);
    expect(after.results.flatMap((r) => r.decisions).some((d) => d.decision === 'recorded' && /a lasting consequence of the remediation/.test(d.reason))).toBe(true);
    // Without that remediation the same move pages: it is not the signal that is muted.
    const alone = run([[12, [pricier(12)]], [13, [pricier(13)]], [14, [pricier(14)]]], quiet.state);
    expect(count(alone, 'ReopenIncident') + count(alone, 'OpenIncident')).toBe(1);
  });

  it('raises no severity for a caller\'s errors while the healer restarts its callee: attached as the action\'s effect', () => {
    const slow = (n: number) => obs('reviewer', 'latency.p95_ms', n, 900, 300);
    const first = run([[0, [slow(0)]], [1, [slow(1)]]]);
    const opened = first.commands.find((c) => c.type === 'OpenIncident')!;
    expect(opened).toMatchObject({ service: 'reviewer', severity: 'warning' });
    const restart = { remediationId: 'r1', incidentId: opened.incidentId, service: 'reviewer', playbookId: 'restart-on-latency-creep', startedAtMs: bucket(2) + 1000 };
    // The coder's calls to the reviewer fail while it restarts: the same incident, still a warning.
    const during = run([[3, [errors('coder', 3)]]], first.state, { ...context, remediations: [restart] });
    expect(during.commands.find((c) => c.type === 'AttachSignal')).toMatchObject({
      incidentId: opened.incidentId,
      service: 'coder',
      reason: 'coder is a caller of reviewer while restart-on-latency-creep acts on it: an effect of the remediation, not a new fault',
    });
    expect(count(during, 'ChangeSeverity')).toBe(0);
    // Without the action, the coder failing beside its slow callee is the fault growing worse.
    const worse = run([[3, [errors('coder', 3)]]], first.state);
    expect(worse.commands.find((c) => c.type === 'ChangeSeverity')).toMatchObject({ incidentId: opened.incidentId, to: 'critical' });
  });

  it('confirms an error rate over two bad intervals among the last three by default: a noisy service\'s single bad interval pages nobody', () => {
    const single = run([[0, [errors('cart', 0)]], [1, []], [2, []], [3, [errors('cart', 3)]]], initialPolicyState(), defaults);
    expect(single.commands).toEqual([]);
    expect(single.results[0]!.decisions[0]!.reason).toMatch(/waiting for confirmation \(1 of 2 bad intervals among the last 3\)/);
    const flapping = run([[0, [errors('cart', 0)]], [1, []], [2, [errors('cart', 2)]]], initialPolicyState(), defaults);
    expect(flapping.types(2)[0]).toBe('OpenIncident');
  });

  it('pages an error rate at once when the same interval has a new error signature on that service', () => {
    const signature = obs('coder', 'error_signature.new', 0, 20, 0, { signature: 'abc', signatureTemplate: 'TypeError: Cannot read properties of undefined <*>' });
    const r = run([[0, [errors('coder', 0), signature]]], initialPolicyState(), defaults);
    expect(r.types(0)[0]).toBe('OpenIncident');
    expect(r.results[0]!.decisions.find((d) => d.decision === 'opened')!.reason).toBe('symptom users feel, with a new or surging error signature on the same service');
  });

  it('lets a caller that fails minutes later join through the exemplar traces the incident keeps refreshing', () => {
    const passes: Array<[number, Observation[]]> = Array.from({ length: 25 }, (_, n) => [n, [errors('researcher', n, { traceIds: [`trace-${n}`] })]]);
    passes.push([25, [errors('researcher', 25, { traceIds: ['trace-25'] }), errors('planner', 25, { traceIds: ['trace-25'] })]]);
    const r = run(passes);
    expect(count(r, 'OpenIncident')).toBe(1);
    expect(r.types(25)).toContain('AttachSignal');
    expect(r.results[25]!.decisions.find((d) => d.service === 'planner')!.reason).toBe('shares exemplar trace trace-25');
  });
});
