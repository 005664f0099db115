import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTimestampMs, runDetect } from './detect.ts';

const dir = mkdtempSync(join(tmpdir(), 'heph-detect-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sink = () => {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
};

const run = async (argv: string[], stdin?: string) => {
  const stdout = sink();
  const stderr = sink();
  const input = stdin === undefined ? undefined : new PassThrough();
  input?.end(stdin);
  const code = await runDetect(argv, { stdout: stdout.stream, stderr: stderr.stream, stdin: input });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
};

const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

/** 600 points five minutes apart around 10, then one spike of 60. */
const series = (header = true) => {
  const lines = header ? ['timestamp,value'] : [];
  for (let i = 0; i < 600; i++) {
    const t = new Date(Date.UTC(2014, 3, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    lines.push(`${t},${i === 550 ? 60 : 10 + Math.sin(i) * 2}`);
  }
  return `${lines.join('\n')}\n`;
};

describe('heph detect', () => {
  it('reads NAB and ISO timestamps', () => {
    expect(parseTimestampMs('2014-04-01 00:05:00')).toBe(Date.UTC(2014, 3, 1, 0, 5));
    expect(parseTimestampMs('2014-04-10 07:15:00.000000')).toBe(Date.UTC(2014, 3, 10, 7, 15));
    expect(parseTimestampMs('2014-04-01T00:05:00Z')).toBe(Date.UTC(2014, 3, 1, 0, 5));
    expect(parseTimestampMs('2014-04-01T02:05:00+02:00')).toBe(Date.UTC(2014, 3, 1, 0, 5));
    expect(parseTimestampMs('yesterday')).toBeUndefined();
    expect(parseTimestampMs('2014-13-45 99:00:00')).toBeUndefined();
    expect(parseTimestampMs('2014-02-30 00:00:00')).toBeUndefined();
  });

  it('writes timestamp,value,anomaly_score for every point to stdout, and flags the spike', async () => {
    const { code, stdout, stderr } = await run(['--input', file('series.csv', series())]);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score');
    expect(lines).toHaveLength(601);
    expect(lines[1]).toBe('2014-04-01 00:00:00,10,0.000000');
    const scores = lines.slice(1).map((l) => Number(l.split(',')[2]));
    expect(scores.every((s) => s >= 0 && s <= 1)).toBe(true);
    expect(scores[550]).toBeGreaterThan(0.5);
    expect(Math.max(...scores.slice(0, 550))).toBeLessThan(0.5);
  });

  it('writes to --output, without a header in the input, with any detector by name', async () => {
    const output = join(dir, 'scores.csv');
    const { code, stdout } = await run(['-i', file('bare.csv', series(false)), '--detector', 'ewma', '--output', output]);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    const lines = readFileSync(output, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(601);
    expect(Number(lines[551]!.split(',')[2])).toBeGreaterThan(0.5);
  });

  it('adds a readable explanation with --explain, and reads stdin with --input -', async () => {
    const { code, stdout } = await run(['--input', '-', '--explain', '--unit', 'ms'], series());
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('timestamp,value,anomaly_score,explanation');
    expect(lines[551]).toMatch(/^2014-04-02 21:50:00,60,0\.\d+,"value 60 ms vs usual .* ms/);
  });

  it('names the line of a malformed row and exits with 2', async () => {
    const text = series().split('\n');
    text[101] = '2014-04-01 08:20:00,12;5';
    const { code, stderr } = await run(['--input', file('bad-value.csv', text.join('\n'))]);
    expect(code).toBe(2);
    expect(stderr).toContain('line 102: \'12;5\' is not a number');

    const { code: c2, stderr: e2 } = await run(['--input', file('bad-time.csv', 'timestamp,value\n2014-04-01 00:00:00,1\nnot a time,2\n')]);
    expect(c2).toBe(2);
    expect(e2).toContain('line 3: \'not a time\' is not a timestamp');

    const { code: c3, stderr: e3 } = await run(['--input', file('bad-fields.csv', '2014-04-01 00:00:00,1,7\n')]);
    expect(c3).toBe(2);
    expect(e3).toContain("line 1: expected 'timestamp,value', found 3 fields");

    const { stderr: e4 } = await run(['--input', file('backwards.csv', '2014-04-01 00:05:00,1\n2014-04-01 00:00:00,2\n')]);
    expect(e4).toContain('line 2: 2014-04-01 00:00:00 is earlier than the line before');
  });

  it('explains the options and lists the detectors with --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: heph detect --input series.csv [--detector NAME] [--output scores.csv]');
    for (const name of ['default', 'range', 'ewma', 'robust', 'cusum', 'volatility', 'seasonal']) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('refuses bad options with 2 and a missing file with 1', async () => {
    expect((await run([])).code).toBe(2);
    expect((await run(['--input', 'x.csv', '--detector', 'magic'])).stderr).toContain("unknown detector 'magic'");
    expect((await run(['--input', 'x.csv', '--frobnicate'])).code).toBe(2);
    const missing = await run(['--input', join(dir, 'nope.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('ENOENT');
  });
});
