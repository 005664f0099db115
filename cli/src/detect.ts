// `heph detect`: streams a timestamp,value CSV through an anomaly detector and writes
// timestamp,value,anomaly_score. The wiring in main.ts calls runDetect(argv, io).
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { createDetector, detectorDescriptions, detectorNames, isDetectorName } from '../../services/analyzer/src/domain/detectors/index.ts';

export type DetectIo = { stdout: Writable; stderr: Writable; stdin?: Readable };

export const detectUsage = `usage: heph detect --input series.csv [--detector NAME] [--output scores.csv] [--explain]

Streams a timestamp,value CSV through an anomaly detector, point by point (no look-ahead), and
writes timestamp,value,anomaly_score. The score is in [0, 1]: 0.5 means the point deviates as much
as the largest deviation of the series' recent past; the detector raises its alarm from 0.5.

options:
  -i, --input FILE      the series: one 'timestamp,value' a line, in time order, header optional;
                        timestamps as 'YYYY-MM-DD HH:MM:SS' (NAB, read as UTC) or ISO 8601; '-' reads stdin
  -d, --detector NAME   which detector (default: default)
  -o, --output FILE     where to write the scores (default: stdout)
  -e, --explain         add a fourth column, explanation: one line a human can read
  -u, --unit UNIT       unit of the values for explanations (ms, s, bytes, %, or any word)
  -h, --help            show this help

detectors:
${detectorNames.map((n) => `  ${n.padEnd(12)}${detectorDescriptions[n]}`).join('\n')}

exit codes: 0 done, 1 a file could not be read or written, 2 bad options or a malformed line (named).`;

const nabTimestamp = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;

/** NAB's 'YYYY-MM-DD HH:MM:SS[.ffffff]' (read as UTC) or any ISO 8601 date-time; undefined when neither. */
export const parseTimestampMs = (text: string): number | undefined => {
  const m = nabTimestamp.exec(text);
  if (m) {
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    // Date.UTC rolls 2014-02-30 over into March: a field out of range is a malformed timestamp.
    const back = new Date(t);
    const valid = back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
    return valid ? t : undefined;
  }
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
};

const unquote = (field: string) => {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1) : f;
};

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
    let previousMs = Number.NEGATIVE_INFINITY;
    const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
    const consume = (async () => {
      for await (const raw of lines) {
        lineNumber++;
        const line = raw.trim();
        if (line === '') continue;
        const fields = line.split(',');
        if (fields.length !== 2) throw new InputError(`line ${lineNumber}: expected 'timestamp,value', found ${fields.length} field${fields.length === 1 ? '' : 's'}`);
        const stamp = unquote(fields[0]!);
        const text = unquote(fields[1]!);
        const timestampMs = parseTimestampMs(stamp);
        const value = text === '' ? Number.NaN : Number(text);
        if (lineNumber === 1 && timestampMs === undefined && Number.isNaN(value)) continue; // the header
        if (timestampMs === undefined) throw new InputError(`line ${lineNumber}: '${stamp}' is not a timestamp (YYYY-MM-DD HH:MM:SS or ISO 8601)`);
        if (!Number.isFinite(value)) throw new InputError(`line ${lineNumber}: '${text}' is not a number`);
        if (timestampMs < previousMs) throw new InputError(`line ${lineNumber}: ${stamp} is earlier than the line before; the series must be in time order`);
        previousMs = timestampMs;
        const verdict = detector.update(timestampMs, value);
        const row = `${stamp},${text},${verdict.score.toFixed(6)}`;
        await write(out, explain ? `${row},${csvQuote(verdict.explanation)}\n` : `${row}\n`);
      }
    })();
    await Promise.race([consume, failed]);
    if (values.output) {
      out.end();
      await once(out, 'finish');
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
