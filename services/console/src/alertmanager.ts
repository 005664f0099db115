// Alertmanager's API v2 on the console (api/v2/openapi.yaml of prometheus/alertmanager), so amtool,
// Prometheus and Grafana work against us unchanged; and our own /api/silences over the same store.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { activeSilences, createSilence, expireSilence, getSilence, listIncidents, listSilences, type StoredSilence } from '@hephaestus/aggregates';
import type { Logger, Sql } from '@hephaestus/platform';
import { matcherMatches, regexMatches, regexProblem, silencedBy, silenceState, type Labels, type Matcher, type Silence, type SilenceState } from '@hephaestus/schemas';
import { z } from 'zod';
import consolePackage from '../package.json' with { type: 'json' };

export type AlertmanagerApiOptions = {
  sql: Sql;
  logger: Logger;
  consoleUrl: string;
  /** The token's name when tokens are set: a silence's `createdBy`, whatever the body says. */
  principalOf?: (request: FastifyRequest) => string | undefined;
  /** Posted alerts firing at once past which new ones are refused (default 10,000). */
  maxPostedAlerts?: number;
};

/** Every alert goes to our own dispatcher, which routes it further; Alertmanager clients see one receiver. */
const receiverName = 'hephaestus';
/** Alertmanager's default: an alert posted without endsAt resolves unless it is sent again within this. */
const resolveTimeoutMs = 5 * 60_000;
/** Alertmanager's default --data.retention: expired silences are listed this long. */
const silenceRetentionMs = 120 * 3_600_000;
/** Posted alerts firing at once (in PostgreSQL) past which new ones are refused, by default. */
const defaultMaxPostedAlerts = 10_000;
/** Go's zero time: how Alertmanager writes "no end known" (an incident is open until it resolves). */
const zeroTime = '0001-01-01T00:00:00.000Z';

const configYaml = `global:
  resolve_timeout: 5m
route:
  receiver: ${receiverName}
receivers:
- name: ${receiverName}
templates: []
`;

// ---- Errors: one set of values, rendered once per API (Alertmanager's shapes, or problem+json).

type ApiError =
  /** The body is not the JSON the operation takes (go-swagger answers 400 `{code, message}`). */
  | { code: 'MALFORMED'; message: string }
  /** A required field is missing or a format is wrong (go-swagger answers 422 with its own error code). */
  | { code: 'UNPROCESSABLE'; openApiCode: number; message: string }
  /** The request parses but Alertmanager's rules refuse it (400 with the message as a JSON string). */
  | { code: 'INVALID'; message: string }
  | { code: 'NOT_FOUND'; message: string }
  | { code: 'OVERLOADED'; message: string };

type Result<T> = { ok: true; value: T } | { ok: false; error: ApiError };
const fail = (error: ApiError): { ok: false; error: ApiError } => ({ ok: false, error });

const statusOf: Record<ApiError['code'], number> = { MALFORMED: 400, UNPROCESSABLE: 422, INVALID: 400, NOT_FOUND: 404, OVERLOADED: 500 };

const sendAlertmanagerError = (reply: FastifyReply, error: ApiError) => {
  if (error.code === 'MALFORMED') return reply.code(400).send({ code: 400, message: error.message });
  if (error.code === 'UNPROCESSABLE') return reply.code(422).send({ code: error.openApiCode, message: error.message });
  return reply.code(statusOf[error.code]).type('application/json').send(JSON.stringify(error.message));
};

const titles: Record<number, string> = { 400: 'Bad Request', 404: 'Not Found', 413: 'Content Too Large', 415: 'Unsupported Media Type', 500: 'Internal Server Error' };

const sendProblem = (reply: FastifyReply, status: number, detail: string) =>
  reply.code(status).type('application/problem+json').send({ type: 'about:blank', title: titles[status] ?? 'Error', status, detail });

/** Our own API answers 400 for every refused body: the 422 split is go-swagger's, not ours. */
const sendProblemError = (reply: FastifyReply, error: ApiError) => sendProblem(reply, error.code === 'UNPROCESSABLE' ? 400 : statusOf[error.code], error.message);

// ---- Decode: the bodies and parameters of API v2, as its OpenAPI document defines them.

const dateTime = z.iso.datetime({ offset: true });
const labelSet = z.record(z.string(), z.string());

const postableSilence = z.object({
  id: z.string().optional(),
  matchers: z.array(z.object({ name: z.string(), value: z.string(), isRegex: z.boolean(), isEqual: z.boolean().default(true) })).min(1),
  startsAt: dateTime,
  endsAt: dateTime,
  createdBy: z.string(),
  comment: z.string(),
});

const postableAlerts = z.array(
  z.object({
    labels: labelSet,
    annotations: labelSet.optional(),
    startsAt: dateTime.optional(),
    endsAt: dateTime.optional(),
    generatorURL: z
      .string()
      .refine((url) => url === '' || URL.canParse(url), 'must be of type uri')
      .optional(),
  }),
);

const queryValues = z.union([z.string(), z.array(z.string())]).optional();
const listParams = z.object({ filter: queryValues, active: queryValues, silenced: queryValues, inhibited: queryValues, pending: queryValues, expired: queryValues, receiver: queryValues });
type ListParams = z.infer<typeof listParams>;

const all = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** go-swagger reads a boolean parameter as go-openapi's swag.ConvertBool: these words are true, any other false. */
const truthy = new Set(['true', '1', 'yes', 'ok', 'y', 'on', 'selected', 'checked', 't', 'enabled']);
const flag = (value: string | string[] | undefined, byDefault: boolean): boolean => {
  const last = all(value).at(-1);
  return last === undefined ? byDefault : truthy.has(last.toLowerCase());
};

const valueAt = (body: unknown, path: PropertyKey[]): unknown =>
  path.reduce<unknown>((v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined), body);

/** Maps a zod failure to what go-swagger answers for the same body. */
const bodyError = (name: string, body: unknown, error: z.ZodError): ApiError => {
  const issue = error.issues[0]!;
  const path = issue.path.length > 0 ? issue.path.join('.') : name;
  const value = valueAt(body, issue.path);
  if (issue.code === 'too_small') return { code: 'UNPROCESSABLE', openApiCode: 612, message: `${path} in body should have at least ${issue.minimum} items` };
  if (value === undefined) return { code: 'UNPROCESSABLE', openApiCode: 602, message: `${path} in body is required` };
  if (issue.code === 'custom') return { code: 'UNPROCESSABLE', openApiCode: 601, message: `${path} in body ${issue.message}: ${JSON.stringify(value)}` };
  return { code: 'MALFORMED', message: `parsing ${name} body from "" failed, because ${path}: ${issue.message}` };
};

// ---- Matchers: Alertmanager's label and filter rules (model.LabelName, pkg/labels/parse.go). Regexes are
// anchored and compiled by RE2 (schemas' regexProblem), as Go's regexp compiles them there.

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Matched against the trimmed text: a lazy value followed by `\s*$` would backtrack quadratically on a long query. */
const filterSyntax = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*([\s\S]*)$/;

/** One `filter` parameter, parsed as Alertmanager's labels.ParseMatcher: optional quotes, `\"`, `\\`, `\n` escapes. */
export const parseFilterMatcher = (text: string): Result<Matcher> => {
  const parts = filterSyntax.exec(text.trim());
  if (!parts) return fail({ code: 'INVALID', message: `bad matcher format: ${text}` });
  const [, name, op, quoted] = parts as unknown as [string, string, string, string];
  const unescapedQuote = fail({ code: 'INVALID', message: `matcher value contains unescaped double quote: ${quoted}` });
  const quotedValue = quoted.startsWith('"');
  const chars = [...(quotedValue ? quoted.slice(1) : quoted)];
  let value = '';
  let expectTrailingQuote = quotedValue;
  let escaped = false;
  for (const [i, c] of chars.entries()) {
    const last = i === chars.length - 1;
    if (escaped) {
      escaped = false;
      value += c === 'n' ? '\n' : c === '"' || c === '\\' ? c : `\\${c}`;
    } else if (c === '\\') {
      if (last) value += '\\';
      else escaped = true;
    } else if (c === '"') {
      if (!expectTrailingQuote || !last) return unescapedQuote;
      expectTrailingQuote = false;
    } else value += c;
  }
  if (expectTrailingQuote) return unescapedQuote;
  const isRegex = op === '=~' || op === '!~';
  const regexError = isRegex ? regexProblem(value) : undefined;
  if (regexError) return fail({ code: 'INVALID', message: regexError });
  return { ok: true, value: { name, value, isRegex, isEqual: op === '=' || op === '=~' } };
};

const parseFilter = (params: ListParams): Result<Matcher[]> => {
  const matchers: Matcher[] = [];
  for (const text of all(params.filter)) {
    const parsed = parseFilterMatcher(text);
    if (!parsed.ok) return parsed;
    matchers.push(parsed.value);
  }
  return { ok: true, value: matchers };
};

/** A silence is listed when each filter matcher is one of its own (api/v2 CheckSilenceMatchesFilterLabels). */
const silenceMatchesFilter = (s: Silence, filter: Matcher[]): boolean =>
  filter.every((f) => s.matchers.some((m) => m.name === f.name && m.value === f.value && m.isRegex === f.isRegex && m.isEqual === f.isEqual));

/** An alert is listed when its labels match every filter matcher; an empty value tests presence (api/v2 matchFilterLabels). */
const alertMatchesFilter = (labels: Labels, filter: Matcher[]): boolean =>
  filter.every((m) => (m.value === '' && Object.hasOwn(labels, m.name) !== m.isEqual) || matcherMatches(m, labels));

// ---- Validate: the rules Alertmanager applies to a silence before it stores it.

/** silence.ValidateMatcher's rules: a valid label name, and a value that is UTF-8 or a regex that compiles. */
const matcherProblem = (m: Matcher): string | undefined => {
  if (!labelName.test(m.name)) return `invalid label name ${JSON.stringify(m.name)}`;
  if (!m.isRegex) return m.value.isWellFormed() ? undefined : `invalid label value ${JSON.stringify(m.value)}`;
  const regexError = regexProblem(m.value);
  return regexError && `invalid regular expression ${JSON.stringify(m.value)}: ${regexError}`;
};

const matchesEmpty = (m: Matcher): boolean => m.isEqual && (m.isRegex ? regexMatches(m.value, '') : m.value === '');

const checkSilence = (body: z.infer<typeof postableSilence>, nowMs: number): Result<Omit<Silence, 'id'>> => {
  const startsAt = new Date(body.startsAt);
  const endsAt = new Date(body.endsAt);
  if (startsAt >= endsAt) return fail({ code: 'INVALID', message: 'Failed to create silence: start time must be before end time' });
  if (endsAt.getTime() < nowMs) return fail({ code: 'INVALID', message: "Failed to create silence: end time can't be in the past" });
  for (const [i, m] of body.matchers.entries()) {
    const problem = matcherProblem(m);
    if (problem) return fail({ code: 'INVALID', message: `silence invalid: invalid label matcher ${i}: ${problem}` });
  }
  if (body.matchers.every(matchesEmpty)) return fail({ code: 'INVALID', message: 'silence invalid: at least one matcher must not match the empty string' });
  // Alertmanager accepts an anonymous silence; ours are always owned (schemas' silence: createdBy min 1).
  if (body.createdBy.trim() === '') return fail({ code: 'INVALID', message: 'silence invalid: createdBy must not be empty' });
  return {
    ok: true,
    value: { matchers: body.matchers, startsAt: startsAt.toISOString(), endsAt: endsAt.toISOString(), createdBy: body.createdBy, comment: body.comment },
  };
};

/** The alert rules of Prometheus' model.Alert.Validate, with Alertmanager's messages. */
const checkAlert = (a: AlertRecord): string | undefined => {
  if (Date.parse(a.endsAt) < Date.parse(a.startsAt)) return 'start time must be before end time';
  const badLabel = Object.keys(a.labels).find((name) => !labelName.test(name));
  if (badLabel !== undefined) return `invalid label set: invalid name ${JSON.stringify(badLabel)}`;
  if (Object.keys(a.labels).length === 0) return 'at least one label pair required';
  const badAnnotation = Object.keys(a.annotations).find((name) => !labelName.test(name));
  if (badAnnotation !== undefined) return `invalid annotations: invalid name ${JSON.stringify(badAnnotation)}`;
  return undefined;
};

// ---- Encode: Alertmanager's JSON for silences and alerts.

const gettableSilence = (s: StoredSilence, nowMs: number) => ({
  id: s.id,
  matchers: s.matchers.map((m) => ({ name: m.name, value: m.value, isRegex: m.isRegex, isEqual: m.isEqual })),
  startsAt: s.startsAt,
  endsAt: s.endsAt,
  createdBy: s.createdBy,
  comment: s.comment,
  updatedAt: s.updatedAt,
  status: { state: silenceState(s, nowMs) },
});
type GettableSilence = ReturnType<typeof gettableSilence>;

const stateOrder: Record<SilenceState, number> = { active: 1, pending: 2, expired: 3 };

/** Alertmanager's order: active by next to end, pending by next to start, expired by most recently ended. */
const bySilenceOrder = (a: GettableSilence, b: GettableSilence): number => {
  const [sa, sb] = [a.status.state, b.status.state];
  if (sa !== sb) return stateOrder[sa] - stateOrder[sb];
  if (sa === 'active') return Date.parse(a.endsAt) - Date.parse(b.endsAt);
  if (sa === 'pending') return Date.parse(a.startsAt) - Date.parse(b.startsAt);
  return Date.parse(b.endsAt) - Date.parse(a.endsAt);
};

/** An alert as Alertmanager holds it, before its status is worked out. */
type AlertRecord = { labels: Labels; annotations: Labels; startsAt: string; endsAt: string; updatedAt: string; generatorURL?: string };

const fnvOffset = 0xcbf29ce484222325n;
const fnvPrime = 0x100000001b3n;
const mask64 = 0xffffffffffffffffn;

/** Prometheus' model.LabelSet.Fingerprint (FNV-1a 64 over sorted name, 0xff, value, 0xff), so ours equal Alertmanager's. */
export const fingerprint = (labels: Labels): string => {
  let hash = fnvOffset;
  const add = (bytes: Uint8Array) => {
    for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * fnvPrime) & mask64;
  };
  const separator = Uint8Array.of(0xff);
  for (const name of Object.keys(labels).sort()) {
    add(Buffer.from(name));
    add(separator);
    add(Buffer.from(labels[name]!));
    add(separator);
  }
  return hash.toString(16).padStart(16, '0');
};

const gettableAlert = (a: AlertRecord, silences: Silence[], nowMs: number) => {
  const silenced = silencedBy(a.labels, silences, nowMs).sort();
  return {
    labels: a.labels,
    annotations: a.annotations,
    startsAt: a.startsAt,
    endsAt: a.endsAt,
    updatedAt: a.updatedAt,
    ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
    fingerprint: fingerprint(a.labels),
    status: { state: silenced.length > 0 ? ('suppressed' as const) : ('active' as const), silencedBy: silenced, inhibitedBy: [] as string[] },
    receivers: [{ name: receiverName }],
  };
};

// ---- Read: open incidents as alerts, and the alerts clients posted.

const incidentAlerts = async (sql: Sql, consoleUrl: string): Promise<AlertRecord[]> => {
  const open = await listIncidents(sql, { status: 'open' });
  const base = consoleUrl.replace(/\/+$/, '');
  return open.map((r) => {
    const stored = Object.fromEntries(Object.entries(r.labels).map(([k, v]) => [k, String(v)]));
    // The same fallback the incident projection writes when an incident came without labels.
    const labels = Object.keys(stored).length > 0 ? stored : { alertname: r.signal, service: r.service, signal: r.signal, severity: r.severity };
    return {
      labels,
      annotations: { summary: r.summary },
      startsAt: r.openedAt,
      endsAt: zeroTime,
      // Its last change: opened, acknowledged or mitigated.
      updatedAt: new Date(Math.max(...[r.openedAt, r.acknowledgedAt, r.mitigatedAt].map((at) => (at ? Date.parse(at) : 0)))).toISOString(),
      generatorURL: `${base}/api/incidents/${encodeURIComponent(r.id)}`,
    };
  });
};

type PostedAlertRow = { labels: Labels; annotations: Labels; starts_at: Date; ends_at: Date; updated_at: Date; generator_url: string | null };

/**
 * Alerts posted to POST /api/v2/alerts, kept in PostgreSQL (`posted_alerts`) by fingerprint until they
 * end: every console process lists the same ones, and a restart loses none.
 */
const createPostedAlerts = (sql: Sql, maxPostedAlerts: number) => ({
  /**
   * Stores a request's alerts in one transaction (one sweep of the ended ones, one count): in order,
   * each alert already firing or new while fewer than `maxPostedAlerts` fire. Answers how many of
   * them it kept: fewer than given when the rest would pass the cap.
   */
  putAll: (alerts: readonly AlertRecord[], nowMs: number): Promise<number> =>
    sql.begin(async (tx) => {
      if (alerts.length === 0) return 0;
      const keyed = alerts.map((alert) => ({ key: fingerprint(alert.labels), alert }));
      await tx`DELETE FROM posted_alerts WHERE ends_at < ${new Date(nowMs)}`;
      const [held] = await tx<{ n: number }[]>`SELECT count(*)::int AS n FROM posted_alerts`;
      const known = new Set((await tx<{ fingerprint: string }[]>`SELECT fingerprint FROM posted_alerts WHERE fingerprint IN ${tx(keyed.map((k) => k.key))}`).map((r) => r.fingerprint));
      let firing = held!.n;
      let kept = 0;
      for (const { key } of keyed) {
        if (!known.has(key)) {
          if (firing >= maxPostedAlerts) break;
          known.add(key);
          firing += 1;
        }
        kept += 1;
      }
      // The same alert twice in one request: the later one is what is stored (one row per fingerprint).
      const rows = [...new Map(keyed.slice(0, kept).map(({ key, alert }) => [key, { key, alert }])).values()].map(({ key, alert }) => ({
        fingerprint: key,
        labels: alert.labels,
        annotations: alert.annotations,
        starts_at: alert.startsAt,
        ends_at: alert.endsAt,
        updated_at: alert.updatedAt,
        generator_url: alert.generatorURL ?? null,
      }));
      // Sent again while it still fires, an alert keeps its first start (Alertmanager merges overlaps).
      await tx`
        INSERT INTO posted_alerts (fingerprint, labels, annotations, starts_at, ends_at, updated_at, generator_url)
        SELECT fingerprint, labels, annotations, starts_at, ends_at, updated_at, generator_url
        FROM jsonb_to_recordset(${tx.json(rows)}::jsonb)
          AS r(fingerprint text, labels jsonb, annotations jsonb, starts_at timestamptz, ends_at timestamptz, updated_at timestamptz, generator_url text)
        ON CONFLICT (fingerprint) DO UPDATE SET
          labels = EXCLUDED.labels, annotations = EXCLUDED.annotations, ends_at = EXCLUDED.ends_at,
          updated_at = EXCLUDED.updated_at, generator_url = EXCLUDED.generator_url,
          starts_at = CASE WHEN posted_alerts.ends_at >= EXCLUDED.starts_at THEN LEAST(posted_alerts.starts_at, EXCLUDED.starts_at) ELSE EXCLUDED.starts_at END`;
      return kept;
    }),
  current: async (nowMs: number): Promise<AlertRecord[]> =>
    (await sql<PostedAlertRow[]>`SELECT * FROM posted_alerts WHERE ends_at >= ${new Date(nowMs)}`).map((r) => ({
      labels: r.labels,
      annotations: r.annotations,
      startsAt: r.starts_at.toISOString(),
      endsAt: r.ends_at.toISOString(),
      updatedAt: r.updated_at.toISOString(),
      ...(r.generator_url ? { generatorURL: r.generator_url } : {}),
    })),
});

// ---- Routes.

export const registerAlertmanagerApi = (app: FastifyInstance, options: AlertmanagerApiOptions): void => {
  const { sql, logger, consoleUrl } = options;
  const log = logger.child({ component: 'alertmanager-api' });
  const startedAt = new Date().toISOString();
  const maxPostedAlerts = options.maxPostedAlerts ?? defaultMaxPostedAlerts;
  const posted = createPostedAlerts(sql, maxPostedAlerts);

  const listSilencesOp = async (params: unknown, nowMs: number): Promise<Result<GettableSilence[]>> => {
    const query = listParams.safeParse(params);
    if (!query.success) return fail({ code: 'INVALID', message: 'query parameters must be strings' });
    const filter = parseFilter(query.data);
    if (!filter.ok) return filter;
    const shown = { active: flag(query.data.active, true), pending: flag(query.data.pending, true), expired: flag(query.data.expired, true) };
    const silences = (await listSilences(sql, nowMs - silenceRetentionMs))
      .filter((s) => silenceMatchesFilter(s, filter.value))
      .map((s) => gettableSilence(s, nowMs))
      .filter((s) => shown[s.status.state]);
    return { ok: true, value: silences.sort(bySilenceOrder) };
  };

  const postSilenceOp = async (body: unknown, principal: string | undefined, nowMs: number): Promise<Result<GettableSilence>> => {
    const parsed = postableSilence.safeParse(body);
    if (!parsed.success) return fail(bodyError('silence', body, parsed.error));
    const checked = checkSilence(principal === undefined ? parsed.data : { ...parsed.data, createdBy: principal }, nowMs);
    if (!checked.ok) return checked;
    const replaces = parsed.data.id || undefined;
    const created = await createSilence(sql, checked.value, nowMs, replaces);
    if (!created.ok) return fail({ code: 'NOT_FOUND', message: 'silence not found' });
    log.info({ silenceId: created.silence.id, replaces, createdBy: created.silence.createdBy, endsAt: created.silence.endsAt }, 'silence created');
    return { ok: true, value: gettableSilence(created.silence, nowMs) };
  };

  const getSilenceOp = async (id: string, nowMs: number): Promise<Result<GettableSilence>> => {
    const silence = await getSilence(sql, id);
    return silence ? { ok: true, value: gettableSilence(silence, nowMs) } : fail({ code: 'NOT_FOUND', message: 'silence not found' });
  };

  const expireSilenceOp = async (id: string, nowMs: number): Promise<Result<GettableSilence>> => {
    const expired = await expireSilence(sql, id, nowMs);
    if (!expired.ok) return fail({ code: 'NOT_FOUND', message: 'silence not found' });
    log.info({ silenceId: id }, 'silence expired');
    return { ok: true, value: gettableSilence(expired.silence, nowMs) };
  };

  const listAlertsOp = async (params: unknown, nowMs: number) => {
    const query = listParams.safeParse(params);
    if (!query.success) return fail({ code: 'INVALID', message: 'query parameters must be strings' });
    const filter = parseFilter(query.data);
    if (!filter.ok) return filter;
    // amtool always sends `receiver`, empty when not asked for: that means no receiver filter.
    const receiver = all(query.data.receiver).at(-1) || undefined;
    const receiverError = receiver === undefined ? undefined : regexProblem(receiver);
    if (receiverError) return fail({ code: 'INVALID', message: `failed to parse receiver param: ${receiverError}` });
    if (receiver !== undefined && !regexMatches(receiver, receiverName)) return { ok: true as const, value: [] };
    // Nothing is inhibited yet, so `inhibited` changes nothing.
    const show = { active: flag(query.data.active, true), silenced: flag(query.data.silenced, true) };
    const silences = await activeSilences(sql, nowMs);
    // An incident and a posted alert with the same labels are one alert: the incident's.
    const byFingerprint = new Map<string, AlertRecord>();
    for (const a of [...(await posted.current(nowMs)), ...(await incidentAlerts(sql, consoleUrl))]) byFingerprint.set(fingerprint(a.labels), a);
    const alerts = [...byFingerprint.values()]
      .filter((a) => a.endsAt === zeroTime || Date.parse(a.endsAt) >= nowMs)
      .map((a) => gettableAlert(a, silences, nowMs))
      .filter((a) => (show.active || a.status.state !== 'active') && (show.silenced || a.status.silencedBy.length === 0))
      .filter((a) => alertMatchesFilter(a.labels, filter.value));
    return { ok: true as const, value: alerts.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0)) };
  };

  const postAlertsOp = async (body: unknown, nowMs: number): Promise<Result<number>> => {
    const parsed = postableAlerts.safeParse(body);
    if (!parsed.success) return fail(bodyError('alerts', body, parsed.error));
    const now = new Date(nowMs).toISOString();
    const errors: string[] = [];
    const valid: AlertRecord[] = [];
    // Best effort, as Alertmanager: the valid alerts are kept even when others in the batch are refused.
    for (const a of parsed.data) {
      const endsAt = a.endsAt ? new Date(a.endsAt).toISOString() : new Date(nowMs + resolveTimeoutMs).toISOString();
      const startsAt = a.startsAt ? new Date(a.startsAt).toISOString() : a.endsAt ? endsAt : now;
      const alert: AlertRecord = {
        labels: Object.fromEntries(Object.entries(a.labels).filter(([, v]) => v !== '')),
        annotations: a.annotations ?? {},
        startsAt,
        endsAt,
        updatedAt: now,
        ...(a.generatorURL ? { generatorURL: a.generatorURL } : {}),
      };
      const problem = checkAlert(alert);
      if (problem) errors.push(problem);
      else valid.push(alert);
    }
    const stored = await posted.putAll(valid, nowMs);
    if (stored < valid.length) {
      log.warn({ refused: valid.length - stored, stored }, `posted alerts refused: ${maxPostedAlerts} are firing`);
      return fail({ code: 'OVERLOADED', message: `more than ${maxPostedAlerts} posted alerts are firing: ${valid.length - stored} of this request's refused, ${stored} kept` });
    }
    if (errors.length > 0) {
      log.warn({ refused: errors.length, stored }, 'posted alerts refused');
      return fail({ code: 'INVALID', message: errors.join('; ') });
    }
    return { ok: true, value: stored };
  };

  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  // Alertmanager's paths and answers. Errors raised before a handler runs (an unparseable body, a
  // wrong content type) get go-swagger's `{code, message}` shape too.
  void app.register(async (v2) => {
    v2.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode ?? 500;
      if (status < 500) return reply.code(status).send({ code: status, message: error.message });
      request.log.error({ err: error, url: request.url }, 'alertmanager api request failed');
      return reply.code(500).type('application/json').send(JSON.stringify('internal error'));
    });

    v2.get('/api/v2/status', async () => ({
      cluster: { status: 'ready', peers: [] },
      versionInfo: {
        version: consolePackage.version,
        revision: 'unknown',
        branch: 'unknown',
        buildUser: 'hephaestus',
        buildDate: 'unknown',
        goVersion: `node ${process.version}`,
      },
      config: { original: configYaml },
      uptime: startedAt,
    }));

    v2.get('/api/v2/receivers', async () => [{ name: receiverName }]);

    v2.get('/api/v2/silences', async (request, reply) => {
      const result = await listSilencesOp(request.query, Date.now());
      return result.ok ? result.value : sendAlertmanagerError(reply, result.error);
    });

    v2.post('/api/v2/silences', async (request, reply) => {
      const result = await postSilenceOp(request.body, options.principalOf?.(request), Date.now());
      return result.ok ? { silenceID: result.value.id } : sendAlertmanagerError(reply, result.error);
    });

    const checkId = (id: string): ApiError | undefined =>
      uuid.test(id) ? undefined : { code: 'UNPROCESSABLE', openApiCode: 601, message: `silenceID in path must be of type uuid: ${JSON.stringify(id)}` };

    v2.get<{ Params: { silenceID: string } }>('/api/v2/silence/:silenceID', async (request, reply) => {
      const invalid = checkId(request.params.silenceID);
      if (invalid) return sendAlertmanagerError(reply, invalid);
      const result = await getSilenceOp(request.params.silenceID, Date.now());
      return result.ok ? result.value : sendAlertmanagerError(reply, result.error);
    });

    v2.delete<{ Params: { silenceID: string } }>('/api/v2/silence/:silenceID', async (request, reply) => {
      const invalid = checkId(request.params.silenceID);
      if (invalid) return sendAlertmanagerError(reply, invalid);
      const result = await expireSilenceOp(request.params.silenceID, Date.now());
      return result.ok ? reply.code(200).send() : sendAlertmanagerError(reply, result.error);
    });

    v2.get('/api/v2/alerts', async (request, reply) => {
      const result = await listAlertsOp(request.query, Date.now());
      return result.ok ? result.value : sendAlertmanagerError(reply, result.error);
    });

    v2.post('/api/v2/alerts', async (request, reply) => {
      const result = await postAlertsOp(request.body, Date.now());
      return result.ok ? reply.code(200).send() : sendAlertmanagerError(reply, result.error);
    });
  });

  // Our own API over the same store (as openapi.ts describes it): the same JSON, errors as application/problem+json.
  void app.register(async (api) => {
    api.setErrorHandler((error: Error & { statusCode?: number }, request, reply) => {
      const status = error.statusCode ?? 500;
      if (status < 500) return sendProblem(reply, status, error.message);
      request.log.error({ err: error, url: request.url }, 'silence api request failed');
      return sendProblem(reply, 500, 'internal error');
    });

    api.get('/api/silences', async (request, reply) => {
      const result = await listSilencesOp(request.query, Date.now());
      return result.ok ? result.value : sendProblemError(reply, result.error);
    });

    api.get<{ Params: { id: string } }>('/api/silences/:id', async (request, reply) => {
      const result = await getSilenceOp(request.params.id, Date.now());
      return result.ok ? result.value : sendProblem(reply, 404, `no silence ${request.params.id}`);
    });

    api.post('/api/silences', async (request, reply) => {
      const result = await postSilenceOp(request.body, options.principalOf?.(request), Date.now());
      return result.ok ? { silenceID: result.value.id } : sendProblemError(reply, result.error);
    });

    api.delete<{ Params: { id: string } }>('/api/silences/:id', async (request, reply) => {
      const result = await expireSilenceOp(request.params.id, Date.now());
      return result.ok ? result.value : sendProblem(reply, 404, `no silence ${request.params.id}`);
    });
  });
};
