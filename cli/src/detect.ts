// `heph detect`: streams a timestamp,value CSV through an anomaly detector and writes
// timestamp,value,anomaly_score. The wiring in main.ts calls runDetect(argv, io).
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createDetector, detectorDescriptions, detectorNames, isDetectorName } from '../../services/analyzer/src/domain/detectors/index.ts';
import { describeReport, isPoint, layoutOf, readLine, reportOf, type Layout, type Point, type Skip } from './series-csv.ts';

export { parseTimestampMs } from './series-csv.ts';

export type DetectIo = { stdout: Writable; stderr: Writable; stdin?: Readable };

export const detectUsage = `usage: heph detect --input series.csv [--detector NAME] [--output scores.csv] [--explain] [--sort]

Streams a timestamp,value CSV through an anomaly detector, point by point (no look-ahead), and
writes timestamp,value,anomaly_score. The score is in [0, 1]: 0.5 means the point deviates as much
as the largest deviation of the series' recent past; the detector raises its alarm from 0.5.

options:
  -i, --input FILE      the series; '-' reads stdin
  -c, --column NAME     the value column, by header name or number (1 is the first); default: a
                        column named value, values, y, val, count or metric, else the first column
                        beside the time
  -d, --detector NAME   which detector (default: default)
  -o, --output FILE     where to write the scores (default: stdout)
  -s, --sort            score the points in time order (reads the whole file first); without it,
                        points are scored in file order and out-of-order lines are counted
  -e, --explain         add a fourth column, explanation: one line a human can read
  -u, --unit UNIT       unit of the values for explanations (ms, s, bytes, %, or any word)
  -q, --quiet           no summary at the end
  -h, --help            show this help

what it reads:
  a header line is optional; its time column is named timestamp, time, datetime, date, ts, _time or
  @timestamp (else the first column); fields are separated by commas, semicolons (decimal commas
  allowed) or tabs, and may be quoted. Timestamps: 'YYYY-MM-DD HH:MM:SS' (NAB; '/' or 'T' between
  the parts, fractions of a second or a date alone also do; read as UTC), ISO 8601 with a zone, or
  Unix time in seconds (10 digits) or milliseconds (13 digits).

what it does with real-world files (told in a summary on stderr at the end):
  lines out of time order      scored in file order and counted (or sorted with --sort)
  duplicate timestamps         every point is scored, and they are counted
  gaps                         scored as consecutive points; counted (a step over 3 × the usual one)
  empty or non-numeric values, unreadable timestamps, lines without the value column
                               skipped (no score row), counted by reason with the first line of each

detectors:
${detectorNames.map((n) => `  ${n.padEnd(12)}${detectorDescriptions[n]}`).join('\n')}

exit codes: 0 done (lines skipped or not), 1 the file could not be read or written or held no
point at all, 2 bad options.`;

const csvQuote = (text: string) => `"${text.replaceAll('"', '""')}"`;

class InputError extends Error {
  readonly code = 'HEPH_DETECT_INPUT';
}

const write = async (out: Writable, text: string) => {
  if (!out.write(text)) await once(out, 'drain');
};

export const runDetect = async (argv: string[], io: DetectIo): Promise<number> => {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        input: { type: 'string', short: 'i' },
        detector: { type: 'string', short: 'd', default: 'default' },
        output: { type: 'string', short: 'o' },
        explain: { type: 'boolean', short: 'e', default: false },
        unit: { type: 'string', short: 'u', default: '' },
        column: { type: 'string', short: 'c' },
        sort: { type: 'boolean', short: 's', default: false },
        quiet: { type: 'boolean', short: 'q', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    io.stderr.write(`heph detect: ${(error as Error).message}\n\n${detectUsage}\n`);
    return 2;
  }
  if (values.help) {
    io.stdout.write(`${detectUsage}\n`);
    return 0;
  }
  if (!values.input) {
    io.stderr.write(`heph detect: --input is required\n\n${detectUsage}\n`);
    return 2;
  }
  if (!isDetectorName(values.detector)) {
    io.stderr.write(`heph detect: unknown detector '${values.detector}'; one of: ${detectorNames.join(', ')}\n`);
    return 2;
  }
  if (values.input === '-' && !io.stdin) {
    io.stderr.write('heph detect: no standard input to read\n');
    return 2;
  }
  const detector = createDetector(values.detector, { unit: values.unit });
  const input = values.input === '-' ? io.stdin! : createReadStream(values.input);
  const out = values.output ? createWriteStream(values.output) : io.stdout;
  const explain = values.explain;
  let lineNumber = 0;
  try {
    const opened = values.output ? once(out, 'open') : Promise.resolve();
    const failed = new Promise<never>((_, reject) => {
      input.once('error', reject);
      out.once('error', reject);
    });
    failed.catch(() => {}); // settled through the races below; a late error has nobody left to tell
    await Promise.race([opened, failed]);
    await write(out, explain ? 'timestamp,value,anomaly_score,explanation\n' : 'timestamp,value,anomaly_score\n');
    const score = async (p: Point) => {
      const verdict = detector.update(p.timestampMs, p.value);
      const row = `${p.stamp},${p.valueText},${verdict.score.toFixed(6)}`;
      await write(out, explain ? `${row},${csvQuote(verdict.explanation)}\n` : `${row}\n`);
    };
    const points: Point[] = [];
    const skips: Skip[] = [];
    let layout: Layout | undefined;
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    const consume = (async () => {
      for await (const raw of lines) {
        lineNumber++;
        if (raw.trim() === '') continue;
        if (!layout) {
          const found = layoutOf(raw.replace(/^\uFEFF/, ''), values.column);
          if ('error' in found) throw new InputError(`line ${lineNumber}: ${found.error}`);
          layout = found;
          if (layout.header) continue;
        }
        const read = readLine(layout, lineNumber, raw);
        if (!isPoint(read)) {
          skips.push(read);
          continue;
        }
        points.push(read);
        if (!values.sort) await score(read);
      }
      if (values.sort) for (const p of [...points].sort((a, b) => a.timestampMs - b.timestampMs || a.line - b.line)) await score(p);
    })();
    await Promise.race([consume, failed]);
    if (values.output) {
      out.end();
      await once(out, 'finish');
    }
    const report = reportOf(points, skips);
    const source = values.input === '-' ? 'stdin' : values.input;
    const columns = layout?.header ? ` (columns '${layout.header[layout.timeColumn]}' and '${layout.header[layout.valueColumn]}')` : '';
    if (report.points === 0) {
      io.stderr.write(`heph detect: ${source}: no point to score${columns}${[...describeReport(report, values.sort)].map((l) => `\n  ${l}`).join('')}\n`);
      return 1;
    }
    if (!values.quiet) {
      const summary = [`heph detect: ${report.points} point${report.points === 1 ? '' : 's'} of ${source} scored with '${values.detector}'${columns}`, ...describeReport(report, values.sort).map((l) => `  ${l}`)];
      io.stderr.write(`${summary.join('\n')}\n`);
    }
    return 0;
  } catch (error) {
    if (values.output) out.destroy();
    if (values.input !== '-') input.destroy();
    if (error instanceof InputError) {
      io.stderr.write(`heph detect: ${values.input}: ${error.message}\n`);
      return 2;
    }
    io.stderr.write(`heph detect: ${(error as Error).message}\n`);
    return 1;
  }
};
