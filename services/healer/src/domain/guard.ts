// The guard between a matched playbook and acting: one remediation at a time per target service, rate
// per service, cooldown per service and playbook, concurrency per playbook, and the blast radius over
// the fleet. Pure: the recent remediations, the fleet and the time are arguments.
import type { Playbook } from '@hephaestus/schemas';

/** A row of the `remediations` projection. */
export type RecentRemediation = { id: string; playbookId: string; service: string; status: string; startedAtMs: number; updatedAtMs: number };
export type GuardVerdict = { allow: true } | { allow: false; reason: string };

const unfinished = new Set(['awaiting_approval', 'running', 'verifying', 'rolling_back']);
/** Remediations that never acted count for nothing. */
const neverActed = new Set(['refused', 'rejected']);

export const guard = (
  rules: Playbook['guard'],
  input: { playbookId: string; service: string; nowMs: number; recent: RecentRemediation[]; fleet: string[] },
): GuardVerdict => {
  const acted = input.recent.filter((r) => !neverActed.has(r.status));
  // Two remediations on one service would undo or mask each other, and neither could be verified.
  const busy = acted.find((r) => r.service === input.service && unfinished.has(r.status));
  if (busy) {
    return { allow: false, reason: `one remediation at a time per service: ${input.service} is still under remediation ${busy.id} (${busy.playbookId}, ${busy.status.replace('_', ' ')})` };
  }
  const lastHour = acted.filter((r) => r.service === input.service && r.startedAtMs > input.nowMs - 3_600_000);
  if (lastHour.length >= rules.maxRunsPerHour) {
    return { allow: false, reason: `${input.service} already had ${lastHour.length} remediations in the last hour (maxRunsPerHour ${rules.maxRunsPerHour})` };
  }
  const finishedHere = acted
    .filter((r) => r.service === input.service && r.playbookId === input.playbookId && !unfinished.has(r.status))
    .sort((a, b) => b.updatedAtMs - a.updatedAtMs)[0];
  if (finishedHere && input.nowMs - finishedHere.updatedAtMs < rules.cooldownSeconds * 1000) {
    const left = Math.ceil((finishedHere.updatedAtMs + rules.cooldownSeconds * 1000 - input.nowMs) / 1000);
    return { allow: false, reason: `cooldown: ${input.playbookId} finished on ${input.service} ${Math.floor((input.nowMs - finishedHere.updatedAtMs) / 1000)} s ago, ${left} s of ${rules.cooldownSeconds} s left` };
  }
  const running = acted.filter((r) => unfinished.has(r.status));
  const samePlaybook = running.filter((r) => r.playbookId === input.playbookId);
  if (samePlaybook.length >= rules.concurrency) {
    return { allow: false, reason: `playbook ${input.playbookId} already has ${samePlaybook.length} remediation${samePlaybook.length === 1 ? '' : 's'} running (concurrency ${rules.concurrency})` };
  }
  const actedOn = new Set([...running.map((r) => r.service), input.service]);
  if (rules.maxServices !== undefined && actedOn.size > rules.maxServices) {
    return { allow: false, reason: `blast radius: acting on ${input.service} would make ${actedOn.size} services under remediation at once (maxServices ${rules.maxServices})` };
  }
  if (rules.maxPercent !== undefined) {
    const fleet = new Set([...input.fleet, input.service]);
    const percent = (actedOn.size / fleet.size) * 100;
    if (percent > rules.maxPercent) {
      return { allow: false, reason: `blast radius: ${actedOn.size} of ${fleet.size} services (${percent.toFixed(0)} %) under remediation at once, over maxPercent ${rules.maxPercent}` };
    }
  }
  return { allow: true };
};
