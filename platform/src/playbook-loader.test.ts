import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPlaybooks, parsePlaybook } from './playbook-loader.ts';

const good = `id: restart
description: restart it
match:
  service: "*"
  signal: error_rate
steps:
  - name: restart
    action: agent.restart
verify:
  signal: error_rate
  max: 0.05
`;

describe('playbook loader', () => {
  it('loads a valid playbook with defaults filled in', () => {
    const result = parsePlaybook('a.yaml', good);
    expect(result).toMatchObject({ ok: true, playbook: { id: 'restart', steps: [{ timeoutSeconds: 10, retries: 2 }], verify: { windowSeconds: 30 } } });
  });

  it('names the line of a schema error', () => {
    const result = parsePlaybook('bad.yaml', good.replace('action: agent.restart', 'action: reboot-the-world'));
    expect(result).toMatchObject({ ok: false, error: { file: 'bad.yaml', line: 8 } });
    if (!result.ok) expect(result.error.reason).toContain('steps.0.action');
  });

  it('names the line of a YAML syntax error', () => {
    const result = parsePlaybook('broken.yaml', 'id: x\nmatch: [unclosed\n');
    expect(result).toMatchObject({ ok: false, error: { file: 'broken.yaml' } });
    if (!result.ok) expect(result.error.line).toBeGreaterThanOrEqual(2);
  });

  it('loads the good files of a folder and reports the bad ones', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'heph-playbooks-'));
    await writeFile(join(dir, 'a.yaml'), good);
    await writeFile(join(dir, 'b.yml'), good.replace('id: restart', 'id: Not Valid'));
    await writeFile(join(dir, 'notes.txt'), 'ignored');
    const { playbooks, errors } = await loadPlaybooks(dir);
    expect(playbooks.map((p) => p.id)).toEqual(['restart']);
    expect(errors).toEqual([{ file: join(dir, 'b.yml'), line: 1, reason: expect.stringContaining('id:') }]);
  });

  it('loads the default playbooks shipped in playbooks/', async () => {
    const { playbooks, errors } = await loadPlaybooks(join(import.meta.dirname, '../../playbooks'));
    expect(errors).toEqual([]);
    expect(playbooks.map((p) => p.id)).toContain('restart-on-error-burst');
  });
});
