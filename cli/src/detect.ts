// `heph detect`: streams a timestamp,value CSV through an anomaly detector and writes the scores.

const nabTimestamp = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?$/;

/** NAB's 'YYYY-MM-DD HH:MM:SS[.ffffff]' (read as UTC) or any ISO 8601 date-time; undefined when neither. */
export const parseTimestampMs = (text: string): number | undefined => {
  const m = nabTimestamp.exec(text);
  if (m) {
    const ms = m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0;
    const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0), ms);
    return Number.isNaN(t) ? undefined : t;
  }
  if (!/^\d{4}-\d{2}-\d{2}/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : t;
};
