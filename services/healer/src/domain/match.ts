// Which playbook answers an incident, decided on its settled evidence: target → fit → choose.
// A playbook fits only when its target (the ranked root cause, or the incident's own service for
// `target: incident`) itself shows the playbook's signal on the playbook's side of its baseline (above
// when it names none), with the onset it names (sudden or gradual, as first seen), and its service
// glob, severity, labels and error signature match. Among the fits, a declared rule picks one,
// whatever the order events arrived in or files sort in:
//   1. an error signature the playbook names, seen on the target,
//   2. beats a playbook specific to the target's signal (a service glob other than `*`, labels,
//      severity, direction or onset),
//   3. beats a catch-all (service `*` and a signal only);
// ties go to the smaller playbook id.
import { globMatches, type Direction, type Playbook } from '@hephaestus/schemas';
import type { IncidentEvidence, SignalEvidence } from './evidence.ts';

export type Target = { service: string; reason: string };

/** Why a playbook fits: its tier in the rule (1 beats 2 beats 3) and the evidence, in words. */
export type PlaybookFit = { playbook: Playbook; target: Target; tier: 1 | 2 | 3; because: string };
export type FitResult = { ok: true; fit: PlaybookFit } | { ok: false; why: string };

export type Choice =
  | { chosen: PlaybookFit; others: PlaybookFit[]; explanation: string }
  | { chosen: undefined; explanation: string };

/** The top-ranked root cause; equal confidences go to the smaller service name, so the order of candidates does not matter. */
export const rootCause = (incident: IncidentEvidence) =>
  [...incident.ranking].sort((a, b) => b.confidence - a.confidence || a.service.localeCompare(b.service))[0];

// target: the ranked root cause, or the incident's own service.
export const targetOf = (book: Playbook, incident: IncidentEvidence): Target => {
  if (book.target === 'incident') return { service: incident.service, reason: `the playbook targets the incident's service ${incident.service}` };
  const top = rootCause(incident);
  if (!top) return { service: incident.service, reason: `no root-cause ranking: the incident's service ${incident.service}` };
  const own = top.service === incident.service ? ", the incident's own service" : '';
  return { service: top.service, reason: `root cause ${top.service} ranked first (${top.confidence.toFixed(2)})${own}` };
};

/** Error templates seen on a service: its `error_signature.*` signals and any of its signals that carry one. */
export const signaturesOn = (incident: IncidentEvidence, service: string): string[] => [
  ...new Set(incident.signals.filter((s) => s.service === service && s.signature !== undefined).map((s) => s.signature!)),
];

const sides = (signals: SignalEvidence[]) => [...new Set(signals.map((s) => s.direction ?? 'on no known side'))].join(' and ');
const quoted = (values: string[]) => values.map((v) => `"${v}"`).join(', ');

/** What makes a playbook more than a catch-all, in words. */
const specifics = (m: Playbook['match']): string[] => [
  ...(m.service !== '*' ? [`service "${m.service}"`] : []),
  ...(m.severity ? [`severity ${m.severity.join('/')}`] : []),
  ...(m.labels ? Object.entries(m.labels).map(([k, v]) => `${k}=${v}`) : []),
  ...(m.direction ? [`direction ${m.direction}`] : []),
  ...(m.onset ? [`onset ${m.onset}`] : []),
];

/** The signal itself, or its histogram's p95 series (`gen_ai.client.operation.duration.p95`). */
export const isSignalOf = (shown: string, wanted: string) => shown === wanted || shown === `${wanted}.p95`;

// fit: the evidence on the target itself, then the playbook's other conditions.
export const fitPlaybook = (book: Playbook, incident: IncidentEvidence): FitResult => {
  const m = book.match;
  const target = targetOf(book, incident);
  const on = target.service;
  const side: Direction = m.direction ?? 'above';
  const shown = incident.signals.filter((s) => s.service === on && isSignalOf(s.signal, m.signal));
  if (shown.length === 0) return { ok: false, why: `${book.id} needs ${m.signal} ${side} on ${on}, which ${on} does not show` };
  if (!shown.some((s) => s.direction === side)) return { ok: false, why: `${book.id} needs ${m.signal} ${side} on ${on}, which ${on} shows only ${sides(shown)}` };
  if (m.onset) {
    // As first seen: the earliest of the target's evidence for the signal that tells its onset.
    const onset = shown.find((s) => s.direction === side && s.onset !== undefined)?.onset;
    if (onset !== m.onset) return { ok: false, why: `${book.id} needs a ${m.onset} onset of ${m.signal} on ${on}, which ${onset ? `came on ${onset === 'sudden' ? 'suddenly' : 'gradually'}` : 'has no known onset'}` };
  }
  if (!globMatches(m.service, on)) return { ok: false, why: `${book.id} answers services "${m.service}", not ${on}` };
  if (m.severity && !m.severity.includes(incident.severity)) return { ok: false, why: `${book.id} answers severity ${m.severity.join('/')}, not ${incident.severity}` };
  const missing = Object.entries(m.labels ?? {}).filter(([k, v]) => incident.labels[k] !== v);
  if (missing.length > 0) return { ok: false, why: `${book.id} needs the label${missing.length > 1 ? 's' : ''} ${missing.map(([k, v]) => `${k}=${v}`).join(', ')}` };
  if (m.errorSignature !== undefined) {
    const seen = signaturesOn(incident, on);
    if (!seen.some((s) => globMatches(m.errorSignature!, s))) {
      return { ok: false, why: `${book.id} needs an error signature like "${m.errorSignature}" on ${on}, which shows ${seen.length > 0 ? quoted(seen) : 'none'}` };
    }
    return { ok: true, fit: { playbook: book, target, tier: 1, because: `error signature "${m.errorSignature}" seen on ${on}` } };
  }
  const specific = specifics(m);
  if (specific.length > 0) return { ok: true, fit: { playbook: book, target, tier: 2, because: `${m.signal} ${side} on ${on}, specific (${specific.join(', ')})` } };
  return { ok: true, fit: { playbook: book, target, tier: 3, because: `${m.signal} ${side} on ${on}, catch-all` } };
};

/** The rule's order: lower tier first, then playbook id. */
export const byRule = (a: PlaybookFit, b: PlaybookFit) => a.tier - b.tier || (a.playbook.id < b.playbook.id ? -1 : a.playbook.id > b.playbook.id ? 1 : 0);

// choose: every fit, ordered by the rule; the explanation says why this playbook and not another.
export const choosePlaybook = (playbooks: Playbook[], incident: IncidentEvidence): Choice => {
  const results = playbooks.map((book) => ({ book, result: fitPlaybook(book, incident) }));
  const fits = results.flatMap(({ result }) => (result.ok ? [result.fit] : [])).sort(byRule);
  const [chosen, ...others] = fits;
  if (!chosen) {
    // Name the playbooks that answer a signal the incident holds somewhere: the near misses.
    const held = new Set(incident.signals.map((s) => s.signal));
    const near = results.flatMap(({ book, result }) => (!result.ok && [...held].some((s) => isSignalOf(s, book.match.signal)) ? [result.why] : []));
    const signals = [...new Set(incident.signals.map((s) => `${s.signal} on ${s.service}`))].join(', ');
    const why = near.length > 0 ? near.join('; ') : `no playbook answers its signals (${signals})`;
    return { chosen: undefined, explanation: `no playbook fits incident on ${incident.service}: ${why}` };
  }
  const beaten = others.length > 0 ? ` beats ${others.map((o) => `${o.playbook.id} (${o.because})`).join(', ')}` : ', the only playbook that fits';
  return { chosen, others, explanation: `${chosen.target.reason}; ${chosen.playbook.id}: ${chosen.because}${beaten}` };
};
