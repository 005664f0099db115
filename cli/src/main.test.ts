// The heph command line as a user meets it: help, and a clear refusal of what it does not know.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const heph = (...args: string[]) => spawnSync(process.execPath, [join(import.meta.dirname, 'main.ts'), ...args], { encoding: 'utf8', timeout: 60_000 });

describe('heph', () => {
  it('prints its help and exits 0 when asked', () => {
    for (const args of [['--help'], ['help'], ['up', '--help']]) {
      const run = heph(...args);
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(/^usage: heph <command>/);
    }
  });

  it('refuses an unknown command with a message and exit code 2, even with --help', () => {
    for (const args of [['anything'], ['anything', '--help'], ['upp', '-h']]) {
      const run = heph(...args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(new RegExp(`^heph: unknown command '${args[0]}' \\(the commands are up, demo, detect`));
    }
  });
});
