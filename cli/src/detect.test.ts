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
    const path = file('series.csv', series());
    const { code, stdout, stderr } = await run(['--input', path]);
    // A clean file: the summary is one line.
    expect(stderr).toBe(`heph detect: 600 points of ${path} scored with 'default' (columns 'timestamp' and 'value')\n`);
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

  it('skips lines it cannot score, counts them by reason with the first line of each, and scores the rest', async () => {
    const text = series().split('\n');
    text[101] = '2014-04-01 08:20:00,12;5';
    text[102] = '2014-04-01 08:25:00,';
    text[103] = 'not a time,2';
    text[104] = '2014-04-01 08:35:00';
    text[105] = '2014-04-01 08:40:00,n/a';
    const { code, stdout, stderr } = await run(['--input', file('dirty.csv', text.join('\n'))]);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1 + 600 - 5);
    expect(stderr).toContain('595 points of');
    expect(stderr).toContain("5 lines skipped, without a score row: 2 non-numeric values (first: line 102, '12;5'); 1 empty value (first: line 103); 1 unreadable timestamp (first: line 104, 'not a time'); 1 missing column (first: line 105");
    // The spike is still found among the rest.
    const spike = stdout.split('\n').find((l) => l.startsWith('2014-04-02 21:50:00,60,'))!;
    expect(Number(spike.split(',')[2])).toBeGreaterThan(0.5);
  });

  it('scores a clock step back in file order and counts it, or in time order with --sort', async () => {
    // As machine_temperature_system_failure.csv of NAB: the clock steps back by 55 minutes once.
    const lines = ['timestamp,value'];
    for (let i = 0; i < 12; i++) lines.push(`2014-01-07 02:${String(i * 5).padStart(2, '0')}:00,${90 + i}`);
    for (let i = 0; i < 3; i++) lines.push(`2014-01-07 02:${String(i * 5).padStart(2, '0')}:30,${80 + i}`);
    const path = file('step-back.csv', `${lines.join('\n')}\n`);
    const inFileOrder = await run(['--input', path]);
    expect(inFileOrder.code).toBe(0);
    expect(inFileOrder.stdout.split('\n')[13]).toBe('2014-01-07 02:00:30,80,' + inFileOrder.stdout.split('\n')[13]!.split(',')[2]);
    expect(inFileOrder.stderr).toContain('3 lines earlier than a line before (first: line 14, 2014-01-07 02:00:30): scored in file order; --sort scores in time order');
    const sorted = await run(['--input', path, '--sort']);
    expect(sorted.code).toBe(0);
    const stamps = sorted.stdout.trim().split('\n').slice(1).map((l) => l.split(',')[0]);
    expect(stamps.slice(0, 3)).toEqual(['2014-01-07 02:00:00', '2014-01-07 02:00:30', '2014-01-07 02:05:00']);
    expect(stamps).toHaveLength(15);
    expect(sorted.stderr).toContain('scored in time order (--sort)');
  });

  it('counts duplicate timestamps and gaps, and scores every point', async () => {
    const lines = ['timestamp,value'];
    for (let i = 0; i < 50; i++) lines.push(`${new Date(Date.UTC(2015, 0, 1) + i * 60_000).toISOString()},${i % 7}`);
    lines.push(lines.at(-1)!.replace(/,\d+$/, ',3'));
    lines.push(`${new Date(Date.UTC(2015, 0, 1) + 49 * 60_000 + 2 * 3_600_000).toISOString()},4`);
    const { code, stdout, stderr } = await run(['--input', file('dup-gap.csv', `${lines.join('\n')}\n`)]);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(53);
    expect(stderr).toContain('1 duplicate timestamp (first: line 52, 2015-01-01T00:49:00.000Z): every point scored');
    expect(stderr).toContain('1 gap over 3 × the usual step of 1 min (longest 2 h, before line 53): scored as consecutive points');
  });

  it('understands header variants: other column names, semicolons with decimal commas, tabs, quotes, epoch times, a BOM', async () => {
    const rows = (format: (i: number, t: number, v: number) => string) =>
      Array.from({ length: 300 }, (_, i) => format(i, Date.UTC(2016, 5, 1) + i * 300_000, i === 250 ? 80 : 10 + (i % 3)));
    const semicolons = `\uFEFFDate;Temperature\n${rows((_, t, v) => `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')};${String(v)},5`).join('\n')}\n`;
    const a = await run(['--input', file('semi.csv', semicolons)]);
    expect(a.code).toBe(0);
    expect(a.stderr).toContain("300 points of");
    expect(a.stderr).toContain("(columns 'Date' and 'Temperature')");
    expect(a.stdout.split('\n')[251]).toMatch(/^2016-06-01 20:50,80\.5,0\.[5-9]\d*$|^2016-06-01 20:50,80\.5,1\.0+$/);

    const tabs = `time\tcpu\tmemory\n${rows((_, t, v) => `${t / 1000}\t0.5\t${v}`).join('\n')}\n`;
    const b = await run(['--input', file('tabs.tsv', tabs), '--column', 'memory']);
    expect(b.code).toBe(0);
    expect(b.stderr).toContain("(columns 'time' and 'memory')");
    expect(Number(b.stdout.split('\n')[251]!.split(',')[2])).toBeGreaterThan(0.5);

    const quoted = `"ts","value"\n${rows((_, t, v) => `"${t}","${v}"`).join('\n')}\n`;
    const c = await run(['--input', file('quoted.csv', quoted)]);
    expect(c.code).toBe(0);
    expect(c.stdout.trim().split('\n')).toHaveLength(301);

    const unknown = await run(['--input', file('tabs2.tsv', tabs), '--column', 'disk']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("--column 'disk': the header has 'time', 'cpu', 'memory'");
  });

  it('fails with 1 on a file with no point to score, saying why', async () => {
    const { code, stderr } = await run(['--input', file('empty-values.csv', 'timestamp,value\n2014-04-01 00:00:00,\n2014-04-01 00:05:00,x\n')]);
    expect(code).toBe(1);
    expect(stderr).toContain('no point to score');
    expect(stderr).toContain('2 lines skipped');
  });

  it('explains the options and lists the detectors with --help', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: heph detect --input series.csv [--detector NAME] [--output scores.csv]');
    for (const name of ['default', 'range', 'ewma', 'robust', 'cusum', 'volatility', 'seasonal', 'entropy', 'context', 'changepoint', 'shape']) expect(stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
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
