// The story a fix pull request tells its reviewer, told from the incident's events: what happened, the
// signals with their values, root-cause candidates, exemplar traces, the timeline and a console link.
import type { StoredEvent } from '@hephaestus/schemas';

export type IncidentStory = {
  incidentId: string;
  service?: string;
  severity?: string;
  summary?: string;
  /** Why the incident policy paged: the rule that opened it. */
  pagedBecause?: string;
  /** Why the healer chose this playbook and target (remediation.started). */
  choice?: string;
  signals: Array<{ signal: string; service: string; value: number; baseline?: number; since: string; summary: string; detector?: string; why?: string }>;
  candidates: Array<{ service: string; confidence: number; evidence: string[] }>;
  traceIds: string[];
  timeline: Array<{ at: string; what: string }>;
};

/** Folds an incident's stream (`incident-<id>`, and its remediation's) into what the reviewer needs to know. */
export const incidentStory = (incidentId: string, events: StoredEvent[]): IncidentStory => {
  const story: IncidentStory = { incidentId, signals: [], candidates: [], traceIds: [], timeline: [] };
  const addTraces = (ids: string[] | undefined) => {
    for (const id of ids ?? []) if (!story.traceIds.includes(id)) story.traceIds.push(id);
  };
  for (const e of events) {
    switch (e.type) {
      case 'incident.opened':
        story.service = e.data.service;
        story.severity = e.data.severity;
        story.summary = e.data.summary;
        story.pagedBecause = e.data.reason;
        story.signals.push({ signal: e.data.signal, service: e.data.service, value: e.data.value, baseline: e.data.baseline, since: e.data.windowStart, summary: e.data.summary, detector: e.data.explanation?.detector, why: 'opened the incident' });
        addTraces(e.data.traceIds);
        story.timeline.push({ at: e.occurredAt, what: `incident opened: ${e.data.summary}` });
        break;
      case 'incident.signal_attached':
        story.signals.push({ signal: e.data.signal, service: e.data.service, value: e.data.value, baseline: e.data.baseline, since: e.data.onsetAt, summary: e.data.summary, detector: e.data.explanation?.detector, why: e.data.reason });
        addTraces(e.data.traceIds);
        story.timeline.push({ at: e.occurredAt, what: `signal attached: ${e.data.summary}` });
        break;
      case 'incident.root_cause_ranked':
        story.candidates = e.data.candidates;
        story.timeline.push({ at: e.occurredAt, what: `root cause ranked: ${e.data.candidates.map((c) => c.service).join(', ')}` });
        break;
      case 'incident.severity_changed':
        story.severity = e.data.to;
        story.timeline.push({ at: e.occurredAt, what: `severity ${e.data.from} → ${e.data.to}: ${e.data.reason}` });
        break;
      case 'incident.acknowledged':
        story.timeline.push({ at: e.occurredAt, what: `acknowledged by ${e.data.by}` });
        break;
      case 'incident.reopened':
        story.timeline.push({ at: e.occurredAt, what: `reopened: ${e.data.reason}` });
        break;
      case 'incident.mitigated':
        story.timeline.push({ at: e.occurredAt, what: `mitigated: ${e.data.detail}` });
        break;
      case 'incident.resolved':
        story.timeline.push({ at: e.occurredAt, what: 'resolved' });
        break;
      case 'remediation.started':
        story.choice = e.data.targetReason;
        break;
      default:
        break;
    }
  }
  return story;
};

const round = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3));
const code = (s: string) => `\`${s.replace(/`/g, "'")}\``;
const fence = (s: string) => `\`\`\`\n${s.replace(/```/g, "'''")}\n\`\`\``;

export type ChangeDescription =
  | { kind: 'fix'; path: string; find: string; replace: string }
  | { kind: 'revert'; commitSha: string; commitMessage: string; paths: string[]; reason: string };

export const pullRequestBody = (input: {
  story: IncidentStory;
  change: ChangeDescription;
  remediationId: string;
  fixId: string;
  consoleUrl?: string;
  openedAt: string;
}): string => {
  const { story, change } = input;
  const lines: string[] = [];
  lines.push('## What happened', '');
  lines.push(story.summary ? `${story.summary}` : `Incident ${story.incidentId}.`);
  lines.push('', `Incident ${code(story.incidentId)} on ${code(story.service ?? 'unknown service')}, severity **${story.severity ?? 'unknown'}**.`);
  if (input.consoleUrl) lines.push('', `Console: ${input.consoleUrl.replace(/\/$/, '')}/#/incidents/${encodeURIComponent(story.incidentId)}`);
  if (story.pagedBecause) lines.push('', `Paged because: ${story.pagedBecause}.`);
  if (story.signals.length > 0) {
    const cell = (text: string | undefined) => (text ?? '–').replace(/\|/g, '\\|');
    lines.push('', '## Signals', '', '| signal | service | value | baseline | since | detector | why it is here |', '| --- | --- | --- | --- | --- | --- | --- |');
    for (const s of story.signals) lines.push(`| ${s.signal} | ${s.service} | ${round(s.value)} | ${s.baseline === undefined ? '–' : round(s.baseline)} | ${s.since} | ${cell(s.detector)} | ${cell(s.why)} |`);
  }
  if (story.candidates.length > 0) {
    lines.push('', '## Root-cause candidates', '');
    story.candidates.forEach((c, i) => lines.push(`${i + 1}. ${code(c.service)}, confidence ${(c.confidence * 100).toFixed(0)} %${c.evidence.length > 0 ? `: ${c.evidence.join('; ')}` : ''}`));
  }
  if (story.choice) lines.push('', '## Why this action', '', story.choice);
  if (story.traceIds.length > 0) {
    lines.push('', '## Exemplar traces', '');
    for (const id of story.traceIds.slice(0, 10)) lines.push(`- ${code(id)}`);
  }
  lines.push('', '## Timeline', '');
  for (const t of story.timeline) lines.push(`- ${t.at} ${t.what}`);
  lines.push(`- ${input.openedAt} remediation ${code(input.remediationId)} opened this pull request`);
  lines.push('', '## The change', '');
  if (change.kind === 'fix') {
    lines.push(`In ${code(change.path)}, replaces`, '', fence(change.find), '', 'with', '', fence(change.replace));
  } else {
    lines.push(`Reverts ${code(change.commitSha)} (${change.reason}):`, '', fence(change.commitMessage), '', `Paths restored to their state before that commit: ${change.paths.map(code).join(', ') || 'none'}.`);
  }
  lines.push('', '---', `_Opened by Hephaestus (remediation ${code(input.remediationId)}, fix ${code(input.fixId)}). The healer follows the checks; when this is merged it waits for the new version to appear in telemetry._`);
  return lines.join('\n');
};
