// Which playbook answers an incident: the first whose service glob and signal match, in file order.
import type { Playbook, SignalName } from '@hephaestus/schemas';

const globToRegExp = (glob: string) =>
  new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);

export const matchPlaybook = (playbooks: Playbook[], incident: { service: string; signal: SignalName }): Playbook | undefined =>
  playbooks.find((p) => p.match.signal === incident.signal && globToRegExp(p.match.service).test(incident.service));
