// Which playbook answers an incident: the first whose service glob and signal match, in file order.
import { globMatches, type Playbook, type SignalName } from '@hephaestus/schemas';

export const matchPlaybook = (playbooks: Playbook[], incident: { service: string; signal: SignalName }): Playbook | undefined =>
  playbooks.find((p) => p.match.signal === incident.signal && globMatches(p.match.service, incident.service));
