// Reading real-world series exports for `heph detect`: header variants, delimiters, timestamp formats,
// and lines that cannot be scored (skipped and counted, never fatal). Pure: lines in, points and
// counts out; the caller decides the order points are scored in.

export type Point = { line: number; stamp: string; timestampMs: number; valueText: string; value: number };

/** Why a line gave no point. */
export type SkipReason = 'empty value' | 'non-numeric value' | 'unreadable timestamp' | 'missing column';

export type Skip = { line: number; reason: SkipReason; text: string };

export type Layout = {
  delimiter: string;
  /** The header's names, when the first line is a header. */
  header?: string[];
  timeColumn: number;
  valueColumn: number;
};

const nabTimestamp = /^(\d{4})[-/](\d{2})[-/](\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?$/;

/**
 * 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' (NAB; also with '/' or a 'T', or a date alone; read as UTC), any
 * ISO 8601 date-time with a zone, or Unix time in seconds (10 digits, optional decimals) or
 * milliseconds (13 digits); undefined when none of these.
 */
export const parseTimestampMs = (text: string): number | undefined => {
  const m = nabTimestamp.exec(text);
  if (m) {
    const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    // Date.UTC rolls 2014-02-30 over into March: a field out of range is a malformed timestamp.
    const back = new Date(t);
    const valid = back.getUTCFullYear() === year && back.getUTCMonth() === month - 1 && back.getUTCDate() === day && hour < 24 && minute < 60 && second < 60;
    return valid ? t : undefined;
  }
  if (/^\d{10}(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  if (/^\d{13}$/.test(text)) return Number(text);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
};

export const unquote = (field: string) => {
  const f = field.trim();
  return f.length >= 2 && f.startsWith('"') && f.endsWith('"') ? f.slice(1, -1).replaceAll('""', '"').trim() : f;
};

/** Splits one CSV line on the delimiter, keeping delimiters inside double quotes. */
export const splitFields = (line: string, delimiter: string): string[] => {
  if (!line.includes('"')) return line.split(delimiter);
  const fields: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '"') quoted = !quoted;
    if (c === delimiter && !quoted) {
      fields.push(current);
      current = '';
    } else current += c;
  }
  fields.push(current);
  return fields;
};

const timeNames = ['timestamp', 'time', 'datetime', 'date', 'ts', '_time', '@timestamp', 'time_stamp', 'date_time', 'epoch'];
const valueNames = ['value', 'values', 'y', 'val', 'count', 'metric'];

/** The delimiter (tab, semicolon or comma) and columns, from the first non-empty line; `column` names the value column. */
export const layoutOf = (firstLine: string, column?: string): Layout | { error: string } => {
  const delimiter = firstLine.includes('\t') ? '\t' : firstLine.includes(';') && !firstLine.includes(',') ? ';' : ',';
  const fields = splitFields(firstLine, delimiter).map(unquote);
  const isData = parseTimestampMs(fields[0] ?? '') !== undefined;
  if (isData) {
    if (column !== undefined && !/^\d+$/.test(column)) return { error: `--column '${column}': the file has no header; give the column's number (1 is the first)` };
    const valueColumn = column !== undefined ? Number(column) - 1 : 1;
    return { delimiter, timeColumn: 0, valueColumn };
  }
  const header = fields.map((f) => f.toLowerCase());
  const named = (names: string[]) => names.map((n) => header.indexOf(n)).find((i) => i >= 0);
  const timeColumn = named(timeNames) ?? header.findIndex((h) => h.includes('time') || h.includes('date'));
  const time = timeColumn >= 0 ? timeColumn : 0;
  let valueColumn: number;
  if (column !== undefined) {
    valueColumn = /^\d+$/.test(column) ? Number(column) - 1 : header.indexOf(column.toLowerCase());
    if (valueColumn < 0) return { error: `--column '${column}': the header has ${fields.map((f) => `'${f}'`).join(', ')}` };
  } else {
    valueColumn = named(valueNames) ?? header.findIndex((_, i) => i !== time);
  }
  if (valueColumn < 0) return { error: `the header '${firstLine.trim()}' has no value column beside the time` };
  return { delimiter, header: fields, timeColumn: time, valueColumn };
};

/** One line's point, or why it gives none. `layout.header` lines are not passed here. */
export const readLine = (layout: Layout, line: number, raw: string): Point | Skip => {
  const fields = splitFields(raw, layout.delimiter);
  const stampField = fields[layout.timeColumn];
  const valueField = fields[layout.valueColumn];
  if (stampField === undefined || valueField === undefined) return { line, reason: 'missing column', text: raw.trim() };
  const stamp = unquote(stampField);
  const timestampMs = parseTimestampMs(stamp);
  if (timestampMs === undefined) return { line, reason: 'unreadable timestamp', text: stamp };
  let valueText = unquote(valueField);
  if (valueText === '') return { line, reason: 'empty value', text: '' };
  // A decimal comma, as semicolon-separated exports write it.
  if (layout.delimiter !== ',' && /^-?\d+,\d+$/.test(valueText)) valueText = valueText.replace(',', '.');
  const value = Number(valueText);
  if (!Number.isFinite(value)) return { line, reason: 'non-numeric value', text: valueText };
  return { line, stamp, timestampMs, valueText, value };
};

export const isPoint = (read: Point | Skip): read is Point => 'value' in read;

/** What the file held besides points in order: told in the summary at the end. */
export type SeriesReport = {
  points: number;
  skipped: Map<SkipReason, { count: number; first: Skip }>;
  outOfOrder: { count: number; first?: Point };
  duplicates: { count: number; first?: Point };
  gaps: { count: number; usualStepMs?: number; longest?: { ms: number; before: Point } };
};

/** Counts out-of-order lines, duplicate timestamps and gaps (a step over 3 × the median step) of points in file order. */
export const reportOf = (points: Point[], skips: Skip[]): SeriesReport => {
  const skipped = new Map<SkipReason, { count: number; first: Skip }>();
  for (const s of skips) {
    const known = skipped.get(s.reason);
    if (known) known.count++;
    else skipped.set(s.reason, { count: 1, first: s });
  }
  const outOfOrder: SeriesReport['outOfOrder'] = { count: 0 };
  let latest = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (p.timestampMs < latest) {
      outOfOrder.count++;
      outOfOrder.first ??= p;
    }
    latest = Math.max(latest, p.timestampMs);
  }
  // Duplicates and gaps are about time, whatever order the file has them in.
  const sorted = [...points].sort((a, b) => a.timestampMs - b.timestampMs || a.line - b.line);
  const duplicates: SeriesReport['duplicates'] = { count: 0 };
  const steps: number[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const step = sorted[i]!.timestampMs - sorted[i - 1]!.timestampMs;
    if (step === 0) {
      duplicates.count++;
      duplicates.first ??= sorted[i];
    } else steps.push(step);
  }
  const gaps: SeriesReport['gaps'] = { count: 0 };
  if (steps.length > 0) {
    const usual = [...steps].sort((a, b) => a - b)[Math.floor(steps.length / 2)]!;
    gaps.usualStepMs = usual;
    for (let i = 1; i < sorted.length; i++) {
      const step = sorted[i]!.timestampMs - sorted[i - 1]!.timestampMs;
      if (step <= 3 * usual) continue;
      gaps.count++;
      if (!gaps.longest || step > gaps.longest.ms) gaps.longest = { ms: step, before: sorted[i]! };
    }
  }
  return { points: points.length, skipped, outOfOrder, duplicates, gaps };
};

export const formatDuration = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h${s % 3600 >= 60 ? ` ${Math.round((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(s / 86_400)} d${s % 86_400 >= 3600 ? ` ${Math.round((s % 86_400) / 3600)} h` : ''}`;
};

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** The summary's lines after the first: only what happened. */
export const describeReport = (r: SeriesReport, sorted: boolean): string[] => {
  const lines: string[] = [];
  if (r.outOfOrder.count > 0) {
    const f = r.outOfOrder.first!;
    lines.push(
      `${plural(r.outOfOrder.count, 'line')} earlier than a line before (first: line ${f.line}, ${f.stamp}): ` +
        (sorted ? 'scored in time order (--sort)' : 'scored in file order; --sort scores in time order'),
    );
  }
  if (r.duplicates.count > 0) lines.push(`${plural(r.duplicates.count, 'duplicate timestamp')} (first: line ${r.duplicates.first!.line}, ${r.duplicates.first!.stamp}): every point scored`);
  if (r.gaps.count > 0) {
    const longest = r.gaps.longest!;
    lines.push(`${plural(r.gaps.count, 'gap')} over 3 × the usual step of ${formatDuration(r.gaps.usualStepMs!)} (longest ${formatDuration(longest.ms)}, before line ${longest.before.line}): scored as consecutive points`);
  }
  if (r.skipped.size > 0) {
    const total = [...r.skipped.values()].reduce((n, s) => n + s.count, 0);
    const parts = [...r.skipped.entries()].map(([reason, { count, first }]) => `${count} ${reason}${count === 1 ? '' : 's'} (first: line ${first.line}${first.text ? `, '${first.text.slice(0, 40)}'` : ''})`);
    lines.push(`${plural(total, 'line')} skipped, without a score row: ${parts.join('; ')}`);
  }
  return lines;
};
