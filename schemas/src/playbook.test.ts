import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { playbook, playbookJsonSchema } from './playbook.ts';

describe('playbook format', () => {
  it('has its JSON Schema export committed and up to date (regenerate: heph playbooks schema > schemas/playbook.schema.json)', async () => {
    const committed = JSON.parse(await readFile(join(import.meta.dirname, '../playbook.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(playbookJsonSchema())));
  });

  it('fills the guard, approval, target and failure defaults', () => {
    const parsed = playbook.parse({ id: 'p', description: 'd', match: { signal: 'error_rate' }, steps: [{ name: 's', action: 'agent.restart' }], verify: { max: 0.05 } });
    expect(parsed).toMatchObject({
      target: 'root_cause',
      guard: { maxRunsPerHour: 3, cooldownSeconds: 300, concurrency: 1 },
      approval: { required: false, timeoutSeconds: 900, onTimeout: 'escalate' },
      onFailure: 'escalate',
      dryRun: false,
      verify: { signal: 'error_rate', windowSeconds: 30 },
    });
  });
});
