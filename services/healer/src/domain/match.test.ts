import { playbook, type NewEvent, type Playbook } from '@hephaestus/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadPlaybooks } from '@hephaestus/platform';
import { foldEvidence, type IncidentEvidence, type SignalEvidence } from './evidence.ts';
import { choosePlaybook, fitPlaybook, targetOf } from './match.ts';

const book = (id: string, match: Record<string, unknown>, extra: Record<string, unknown> = {}): Playbook =>
  playbook.parse({
    id,
    description: id,
    match: { signal: 'error_rate', ...match },
    steps: [{ name: 'restart', action: 'agent.restart' }],
    verify: { signal: 'error_rate', windowSeconds: 10, max: 0.05 },
    ...extra,
  });

/** An incident opened on `service`, with these signals and this ranking. */
const incident = (over: Partial<IncidentEvidence> & { signals: SignalEvidence[] }): IncidentEvidence => ({
  incidentId: 'i',
  service: 'planner',
  signal: 'error_rate',
  severity: 'critical',
  labels: {},
  windowStart: '2026-01-01T12:00:00.000Z',
  ranking: [],
  settled: true,
  ...over,
});
const errors = (service: string, signature?: string): SignalEvidence => ({ service, signal: 'error_rate', direction: 'above', value: 0.4, baseline: 0.01, signature });
const signature = (service: string, template: string): SignalEvidence => ({ service, signal: 'error_signature.new', direction: 'above', value: 12, signature: template });
const ranked = (...services: string[]) => services.map((service, i) => ({ service, confidence: 0.9 - i * 0.3, evidence: [] }));

const permutations = <T>(items: T[]): T[][] =>
  items.length <= 1 ? [items] : items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));

describe('the target', () => {
  it.each([
    ['the top-ranked root cause', book('p', {}), ranked('coder', 'planner'), 'coder', 'root cause coder ranked first (0.90)'],
    ['the root cause when it is the incident itself', book('p', {}), ranked('planner'), 'planner', "root cause planner ranked first (0.90), the incident's own service"],
    ["the incident's service without a ranking", book('p', {}), [], 'planner', "no root-cause ranking: the incident's service planner"],
    ["the incident's service for target: incident", book('p', {}, { target: 'incident' }), ranked('coder'), 'planner', "the playbook targets the incident's service planner"],
    ['equal confidences: the smaller service name, whatever the order', book('p', {}), [{ service: 'reviewer', confidence: 0.5, evidence: [] }, { service: 'coder', confidence: 0.5, evidence: [] }], 'coder', 'root cause coder ranked first (0.50)'],
  ])('%s', (_, p, ranking, service, reason) => {
    expect(targetOf(p, incident({ signals: [], ranking }))).toEqual({ service, reason });
  });
});

describe('a playbook fits only the evidence on its target', () => {
  const onCoder = (signals: SignalEvidence[], over: Partial<IncidentEvidence> = {}) => incident({ signals, ranking: ranked('coder', 'planner'), ...over });
  it.each([
    ['the signal on the target', book('p', {}), onCoder([errors('planner'), errors('coder')]), true],
    ['the signal only on another service of the incident', book('p', {}), onCoder([errors('planner')]), 'p needs error_rate above on coder, which coder does not show'],
    ['the signal on the bad side when the playbook names no direction', book('p', { signal: 'calls' }), onCoder([{ service: 'coder', signal: 'calls', direction: 'below', value: 1, baseline: 9 }]), 'p needs calls above on coder, which coder shows only below'],
    ["the playbook's direction", book('p', { signal: 'calls', direction: 'below' }), onCoder([{ service: 'coder', signal: 'calls', direction: 'below', value: 1, baseline: 9 }]), true],
    ['a signal on no known side fits no side', book('p', { signal: 'calls' }), onCoder([{ service: 'coder', signal: 'calls', value: 1 }]), 'p needs calls above on coder, which coder shows only on no known side'],
    ['the service glob on the target', book('p', { service: 'agent-*' }), onCoder([errors('coder')]), 'p answers services "agent-*", not coder'],
    ['glob metacharacters other than * are literal', book('p', { service: 'c.der' }), onCoder([errors('coder')]), 'p answers services "c.der", not coder'],
    ['the listed severities', book('p', { severity: ['critical'] }), onCoder([errors('coder')], { severity: 'warning' }), 'p answers severity critical, not warning'],
    ['every label', book('p', { labels: { 'deployment.environment': 'prod' } }), onCoder([errors('coder')], { labels: { 'deployment.environment': 'staging' } }), 'p needs the label deployment.environment=prod'],
    ['an error signature seen on the target', book('p', { errorSignature: '*timed out*' }), onCoder([errors('coder'), signature('coder', 'request timed out after <*> ms')]), true],
    ['the signature field of a signal of the target', book('p', { errorSignature: '*timed out*' }), onCoder([errors('coder', 'request timed out after <*> ms')]), true],
    ['an error signature seen only on a caller', book('p', { errorSignature: '*timed out*' }), onCoder([errors('coder'), signature('planner', 'request timed out after <*> ms')]), 'p needs an error signature like "*timed out*" on coder, which shows none'],
    ['another error signature on the target', book('p', { errorSignature: '*timed out*' }), onCoder([errors('coder'), signature('coder', 'socket hang up')]), 'p needs an error signature like "*timed out*" on coder, which shows "socket hang up"'],
  ])('%s', (_, p, evidence, expected) => {
    const result = fitPlaybook(p, evidence);
    expect(result.ok ? true : result.why).toBe(expected);
  });
});

describe('the choice among the playbooks that fit', () => {
  const revert = book('revert', { errorSignature: '*Cannot read properties*' });
  const specific = book('specific', { severity: ['critical'] });
  const catchAll = book('catch-all', {});
  const evidence = incident({ signals: [errors('planner'), errors('coder'), signature('coder', 'TypeError: Cannot read properties of undefined <*>')], ranking: ranked('coder') });

  it.each([
    ['an error signature on the target beats a specific playbook and a catch-all', [revert, specific, catchAll], evidence, 'revert'],
    ['a specific playbook beats a catch-all', [specific, catchAll], evidence, 'specific'],
    ['direction makes a playbook specific', [book('shed', { direction: 'above' }), catchAll], evidence, 'shed'],
    ['a service glob makes a playbook specific', [catchAll, book('coders', { service: 'cod*' })], evidence, 'coders'],
    ['equal tiers: the smaller playbook id', [book('b-restart', {}), book('a-restart', {})], evidence, 'a-restart'],
    ['a signature playbook without its signature on the target does not compete', [book('timeouts', { errorSignature: '*timed out*' }), catchAll], evidence, 'catch-all'],
  ])('%s, in any file order', (_, books, incidentEvidence, expected) => {
    for (const order of permutations(books)) expect(choosePlaybook(order, incidentEvidence).chosen?.playbook.id).toBe(expected);
  });

  it('says why this playbook and not another', () => {
    expect(choosePlaybook([catchAll, revert, specific], evidence).explanation).toBe(
      'root cause coder ranked first (0.90); revert: error signature "*Cannot read properties*" seen on coder beats ' +
        'specific (error_rate above on coder, specific (severity critical)), catch-all (error_rate above on coder, catch-all)',
    );
    expect(choosePlaybook([catchAll], evidence).explanation).toBe('root cause coder ranked first (0.90); catch-all: error_rate above on coder, catch-all, the only playbook that fits');
  });

  it('says in plain words why no playbook fits', () => {
    const shed = book('shed', { signal: 'gen_ai.client.operation.duration', direction: 'above' });
    const latency = incident({ signals: [errors('planner'), { service: 'coder', signal: 'gen_ai.client.operation.duration', direction: 'above', value: 900, baseline: 300 }], ranking: ranked('planner') });
    expect(choosePlaybook([shed], latency)).toEqual({
      chosen: undefined,
      explanation: 'no playbook fits incident on planner: shed needs gen_ai.client.operation.duration above on planner, which planner does not show',
    });
    expect(choosePlaybook([book('cost', { signal: 'gen_ai.cost_usd' })], latency).explanation).toBe(
      'no playbook fits incident on planner: no playbook answers its signals (error_rate on planner, gen_ai.client.operation.duration on coder)',
    );
  });
});

describe('the default playbooks on the incidents that went wrong', () => {
  let defaults: Playbook[] = [];
  beforeAll(async () => {
    defaults = (await loadPlaybooks(new URL('../../../../playbooks', import.meta.url).pathname)).playbooks;
    expect(defaults.length).toBeGreaterThan(5);
  });
  const at = '2026-01-01T12:00:00.000Z';
  const opened = (service: string, signal: string, value: number, baseline: number, onset?: 'sudden' | 'gradual'): NewEvent => ({
    type: 'incident.opened',
    data: { incidentId: 'i', service, signal, severity: 'critical', summary: 's', value, baseline, windowStart: at, ...(onset ? { explanation: { detector: 'default', onset } } : {}) },
  });
  const attached = (service: string, signal: string, value: number, extra: { baseline?: number; signature?: string; explanation?: { detector: string; onset?: 'sudden' | 'gradual' } } = {}): NewEvent => ({
    type: 'incident.signal_attached',
    data: { incidentId: 'i', service, signal, summary: 's', value, onsetAt: at, ...extra },
  });
  const settled = (...services: string[]): NewEvent => ({ type: 'incident.root_cause_ranked', data: { incidentId: 'i', candidates: ranked(...services), settled: true } });
  const chosen = (events: NewEvent[]) => {
    const choice = choosePlaybook(defaults, foldEvidence(events)!);
    return choice.chosen ? `${choice.chosen.playbook.id} on ${choice.chosen.target.service}` : 'nothing';
  };

  it('shed load does not act on an agent whose own LLM latency is not in the incident', () => {
    // The callers feel the latency; coder's own LLM calls are not slower (not in the incident), or are faster.
    expect(chosen([opened('planner', 'latency_p99', 2400, 800), attached('researcher', 'latency_p99', 2300, { baseline: 700 }), settled('researcher', 'planner')])).toBe('nothing');
    expect(chosen([opened('coder', 'gen_ai.client.operation.duration', 120, 300), settled('coder')])).toBe('nothing');
    expect(chosen([opened('planner', 'latency_p99', 2400, 800), attached('coder', 'gen_ai.client.operation.duration', 120, { baseline: 300 }), settled('coder', 'planner')])).toBe('nothing');
    // …and does act on the agent whose own LLM calls slowed down suddenly (a saturated pool).
    expect(chosen([opened('coder', 'gen_ai.client.operation.duration', 2900, 300, 'sudden'), settled('coder')])).toBe('shed-load-on-saturation on coder');
    // The histogram's p95 series is the same signal.
    const sudden = { detector: 'default', onset: 'sudden' as const };
    expect(chosen([opened('reviewer', 'latency.p95_ms', 4200, 1900), attached('reviewer', 'gen_ai.client.operation.duration.p95', 2.2, { baseline: 1.3, explanation: sudden }), settled('reviewer')])).toBe(
      'shed-load-on-saturation on reviewer',
    );
    // Without a known onset neither latency playbook acts: shedding might only postpone a creep.
    expect(chosen([opened('coder', 'gen_ai.client.operation.duration', 2900, 300), settled('coder')])).toBe('nothing');
  });

  it('a latency that crept up gets a restart, a step gets shed load: by the onset first seen on the target', () => {
    const gradual = { detector: 'level-shift', onset: 'gradual' as const };
    expect(chosen([opened('reviewer', 'gen_ai.client.operation.duration', 0.8, 0.5, 'gradual'), settled('reviewer')])).toBe('restart-on-latency-creep on reviewer');
    // The creep seen first in the mean, gradually; its p95 series later looks like a step: the first onset decides.
    expect(
      chosen([
        opened('planner', 'latency.p95_ms', 4200, 1900),
        attached('reviewer', 'gen_ai.client.operation.duration', 0.8, { baseline: 0.5, explanation: gradual }),
        attached('reviewer', 'gen_ai.client.operation.duration.p95', 2.9, { baseline: 1.3, explanation: { detector: 'default', onset: 'sudden' } }),
        settled('reviewer', 'planner'),
      ]),
    ).toBe('restart-on-latency-creep on reviewer');
    const unknown = choosePlaybook(defaults, foldEvidence([opened('reviewer', 'gen_ai.client.operation.duration', 0.8, 0.5), settled('reviewer')])!);
    expect(unknown.chosen).toBeUndefined();
    expect(unknown.explanation).toContain('restart-on-latency-creep needs a gradual onset of gen_ai.client.operation.duration on reviewer, which has no known onset');
    const single = defaults.filter((p) => p.id === 'shed-load-on-saturation');
    expect(choosePlaybook(single, foldEvidence([opened('reviewer', 'gen_ai.client.operation.duration', 0.8, 0.5, 'gradual'), settled('reviewer')])!).explanation).toContain(
      'shed-load-on-saturation needs a sudden onset of gen_ai.client.operation.duration on reviewer, which came on gradually',
    );
  });

  it('restart before out of memory does not act on a service without its own failure prediction', () => {
    const events = [opened('planner', 'error_rate', 0.3, 0.01), attached('researcher', 'failure.predicted', 900 * 2 ** 20, { baseline: 2 ** 30 }), settled('planner')];
    expect(chosen(events)).toBe('restart-on-error-burst on planner');
    expect(chosen([opened('researcher', 'failure.predicted', 900 * 2 ** 20, 2 ** 30), settled('researcher')])).toBe('restart-before-out-of-memory on researcher');
  });

  it('a bad deploy gets the revert, not cap-llm-spend or the catch-all restart, in whatever order its evidence was recorded', () => {
    // The callers fail first; coder's errors, its cost per successful call and its new error come an interval later.
    const later = [
      attached('planner', 'error_rate', 0.3, { baseline: 0.01 }),
      attached('researcher', 'gen_ai.cost_per_success_usd', 0.002, { baseline: 0.0001 }),
      attached('researcher', 'error_signature.new', 20, { signature: 'upstream coder failed: <*>' }),
      attached('coder', 'error_rate', 0.6, { baseline: 0.01 }),
      attached('coder', 'gen_ai.cost_per_success_usd', 0.003, { baseline: 0.0001 }),
      attached('coder', 'error_signature.new', 40, { signature: "TypeError: Cannot read properties of undefined (reading 'plan')" }),
    ];
    const outcomes = new Set(permutations(later).map((order) => chosen([opened('researcher', 'error_rate', 0.4, 0.01), ...order, settled('coder', 'researcher')])));
    expect([...outcomes]).toEqual(['bad-deploy-revert on coder']);
    const choice = choosePlaybook(defaults, foldEvidence([opened('researcher', 'error_rate', 0.4, 0.01), ...later, settled('coder', 'researcher')])!);
    expect(choice.explanation).toMatch(/^root cause coder ranked first \(0\.90\); bad-deploy-revert: error signature "\*Cannot read properties\*" seen on coder beats .*cap-llm-spend .*restart-on-error-burst \(error_rate above on coder, catch-all\)$/);
  });
});
