// The OpenAPI 3.1 description of the console API, served at /api/openapi.json.
const problem = { $ref: '#/components/schemas/Problem' };
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [String(code), { description: 'a problem', content: { 'application/problem+json': { schema: problem } } }]));
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const actionBody = {
  required: false,
  content: {
    'application/json': {
      schema: { type: 'object', properties: { by: { type: 'string', description: 'who acts; ignored when HEPH_CONSOLE_TOKENS is set (the token\'s name is used)' }, reason: { type: 'string' } } },
    },
  },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Hephaestus console API',
    version: '0.1.0',
    description:
      'Incidents, silences, services, series, topology, remediations and playbooks of the Hephaestus control plane. ' +
      'Every operation may answer 400 for a NUL in the path or query or a JSON body nested deeper than 32 levels, and 421 for a Host ' +
      'that is not one of HEPH_CONSOLE_ALLOWED_HOSTS; a write (POST, PUT, PATCH, DELETE with a body) answers 415 without a JSON ' +
      'content type and 403 for an Origin other than the console\'s own.',
  },
  security: [{}, { bearer: [] }],
  paths: {
    '/api/incidents': {
      get: {
        summary: 'List incidents, newest first',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'resolved'] } },
          { name: 'service', in: 'query', schema: { type: 'string' } },
          { name: 'severity', in: 'query', schema: { type: 'string', enum: ['critical', 'warning', 'info'] } },
          { name: 'q', in: 'query', schema: { type: 'string', maxLength: 200 }, description: 'text anywhere in the summary, service, signal or id, case-insensitively' },
        ],
        responses: { '200': json({ type: 'object', properties: { incidents: { type: 'array', items: { $ref: '#/components/schemas/Incident' } } } }), ...errors(400, 401) },
      },
    },
    '/api/incidents/{id}': {
      get: { summary: 'One incident with its timeline, evidence, root-cause candidates and exemplar traces', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(401, 404) } },
    },
    '/api/incidents/{id}/traces': {
      get: {
        summary: "The incident's exemplar traces (a few failing, slowest and normal traces of its services, kept by the analyzer), span by span",
        parameters: [id],
        responses: { '200': json({ type: 'object', properties: { incidentId: { type: 'string' }, traces: { type: 'array', items: { $ref: '#/components/schemas/ExemplarTrace' } } } }), ...errors(401, 404) },
      },
    },
    '/api/incidents/{id}/ack': {
      post: { summary: 'Acknowledge an open incident', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(400, 401, 403, 404, 409, 415) } },
    },
    '/api/incidents/{id}/resolve': {
      post: { summary: 'Resolve an open incident by hand', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(400, 401, 403, 404, 409, 415) } },
    },
    '/api/spend': {
      get: {
        summary: 'LLM spend (gen_ai.cost_usd) per service, and per service and model, over a window (the last hour by default)',
        parameters: [
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' } },
        ],
        responses: { '200': json({ type: 'object', properties: { totalUsd: { type: 'number' }, services: { type: 'array', items: { type: 'object' } }, models: { type: 'array', items: { type: 'object' } } } }), ...errors(400, 401) },
      },
    },
    '/api/events/stream': {
      get: {
        summary: 'Server-Sent Events: `ready` once, then one `event` per control-plane event appended after the connection, in order',
        description: 'Each `event` frame carries {position, type, streamId, occurredAt, incidentId?} (its id is the position); read the view again on `ready` (the stream does not replay history).',
        responses: { '200': { description: 'an endless event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors(401) },
      },
    },
    '/api/silences': {
      get: { summary: 'List silences (Alertmanager API v2 shape)', responses: { '200': json({ type: 'array', items: { $ref: '#/components/schemas/Silence' } }), ...errors(401) } },
      post: { summary: 'Create a silence', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Silence' } } } }, responses: { '200': json({ type: 'object', properties: { silenceID: { type: 'string' } } }), ...errors(400, 401, 403, 415) } },
    },
    '/api/silences/{id}': {
      get: { summary: 'One silence', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/Silence' }), ...errors(401, 404) } },
      delete: { summary: 'Expire a silence', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/Silence' }, 'the expired silence'), ...errors(401, 403, 404, 415) } },
    },
    '/api/services': { get: { summary: 'Services seen in telemetry, with recent load and open incidents', responses: { '200': json({ type: 'object' }), ...errors(401) } } },
    '/api/services/{name}/forecasts': {
      get: {
        summary: "Forecasts of the service's gauges that have a limit (heph.limit.<signal> or HEPH_LIMITS): each interval's maximum, a least-squares line over the last 15 minutes since the last restart, its 95 % prediction band and when the line reaches the limit",
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: 30 minutes before to' },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: now' },
          { name: 'horizonMinutes', in: 'query', schema: { type: 'number', default: 15, maximum: 1440 } },
        ],
        responses: {
          '200': json({
            type: 'object',
            properties: {
              service: { type: 'string' },
              forecasts: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    signal: { type: 'string' },
                    limit: { type: 'number' },
                    points: { type: 'array', items: { type: 'object', properties: { time: { type: 'string', format: 'date-time' }, resolutionSeconds: { type: 'integer' }, value: { type: 'number' } } } },
                    fittedFrom: { type: 'string', format: 'date-time' },
                    confidence: { type: ['number', 'null'] },
                    slopePerHour: { type: ['number', 'null'] },
                    reachesLimitAt: { type: ['string', 'null'], format: 'date-time' },
                    forecast: { type: 'array', description: 'empty under 6 points', items: { type: 'object', properties: { time: { type: 'string', format: 'date-time' }, value: { type: 'number' }, lower: { type: 'number' }, upper: { type: 'number' } } } },
                  },
                },
              },
            },
          }),
          ...errors(400, 401),
        },
      },
    },
    '/api/services/{name}/operations': {
      get: {
        summary: "The operations of a service's calls (span names) with their calls, mean and worst interval latency over the window, busiest first (at most 50); plot one with series?signal=latency.mean_ms&operation=NAME",
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: an hour before to' },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' }, description: 'default: now' },
        ],
        responses: { '200': json({ type: 'object', properties: { service: { type: 'string' }, signal: { type: 'string' }, operations: { type: 'array', items: { type: 'object', properties: { operation: { type: 'string' }, calls: { type: 'number' }, meanMs: { type: 'number' }, worstMs: { type: 'number' } } } } } }), ...errors(400, 401) },
      },
    },
    '/api/services/{name}/series': {
      get: {
        summary: "One signal's series for a service",
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'signal', in: 'query', required: true, schema: { type: 'string' }, description: 'calls, errors, error_rate, latency.p50_ms|p95_ms|p99_ms, gen_ai.*, logs.*, or any OTLP metric name' },
          { name: 'operation', in: 'query', schema: { type: 'string' }, description: 'the model, for gen_ai.* signals; the span name, for latency.mean_ms (or name it in the signal: latency.mean_ms{GET /cart})' },
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' } },
        ],
        responses: { '200': json({ type: 'object', properties: { points: { type: 'array', items: { type: 'object', properties: { time: { type: 'string' }, value: { type: 'number' }, resolutionSeconds: { type: 'integer' } } } } } }), ...errors(400, 401) },
      },
    },
    '/api/topology': { get: { summary: 'The service dependency graph learned from spans', responses: { '200': json({ type: 'object', properties: { services: { type: 'array', items: { type: 'string' } }, edges: { type: 'array', items: { $ref: '#/components/schemas/Edge' } } } }), ...errors(401) } } },
    '/api/remediations': {
      get: {
        summary: 'List remediations, newest first',
        parameters: [
          { name: 'status', in: 'query', schema: { type: 'string', enum: ['awaiting_approval', 'running', 'verifying', 'rolling_back', 'validated', 'failed', 'rolled_back', 'escalated', 'rejected', 'refused', 'dry_run'] } },
          { name: 'service', in: 'query', schema: { type: 'string' } },
          { name: 'incident', in: 'query', schema: { type: 'string' }, description: 'an incident id' },
        ],
        responses: { '200': json({ type: 'object', properties: { remediations: { type: 'array', items: { $ref: '#/components/schemas/Remediation' } } } }), ...errors(400, 401) },
      },
    },
    '/api/remediations/{id}': {
      get: { summary: 'One remediation: plan, steps with attempts and results, verification, rollback, timeline', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/RemediationDetail' }), ...errors(401, 404) } },
    },
    '/api/remediations/{id}/approve': {
      post: { summary: 'Approve a remediation waiting for approval', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/RemediationDetail' }), ...errors(400, 401, 403, 404, 409, 415) } },
    },
    '/api/remediations/{id}/reject': {
      post: { summary: 'Reject a remediation waiting for approval', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/RemediationDetail' }), ...errors(400, 401, 403, 404, 409, 415) } },
    },
    '/api/playbooks': {
      get: {
        summary: 'The loaded playbooks, and the files refused at load with file, line and reason',
        responses: { '200': json({ type: 'object', properties: { playbooks: { type: 'array', items: { type: 'object' } }, errors: { type: 'array', items: { type: 'object', properties: { file: { type: 'string' }, line: { type: 'integer' }, reason: { type: 'string' } } } } } }), ...errors(401) },
      },
    },
    '/api/openapi.json': { get: { summary: 'This document', security: [{}], responses: { '200': json({ type: 'object' }) } } },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'when HEPH_CONSOLE_TOKENS is set (name:token entries); the token\'s name is who acts' } },
    schemas: {
      Problem: { type: 'object', properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } } },
      Incident: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          service: { type: 'string' },
          signal: { type: 'string' },
          status: { type: 'string', enum: ['open', 'resolved'] },
          severity: { type: 'string', enum: ['critical', 'warning', 'info'] },
          summary: { type: 'string' },
          labels: { type: 'object', additionalProperties: { type: 'string' } },
          openedAt: { type: 'string', format: 'date-time' },
          resolvedAt: { type: ['string', 'null'], format: 'date-time' },
          acknowledgedAt: { type: ['string', 'null'], format: 'date-time' },
          acknowledgedBy: { type: ['string', 'null'] },
          mitigatedAt: { type: ['string', 'null'], format: 'date-time' },
        },
      },
      IncidentDetail: {
        allOf: [
          { $ref: '#/components/schemas/Incident' },
          {
            type: 'object',
            properties: {
              evidence: { type: 'array', items: { type: 'object' } },
              rootCauseCandidates: { type: 'array', items: { type: 'object', properties: { service: { type: 'string' }, confidence: { type: 'number' }, evidence: { type: 'array', items: { type: 'string' } } } } },
              exemplarTraceIds: { type: 'array', items: { type: 'string' } },
              timeline: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, occurredAt: { type: 'string' }, data: { type: 'object' } } } },
            },
          },
        ],
      },
      ExemplarTrace: {
        type: 'object',
        properties: {
          traceId: { type: 'string' },
          reason: { type: 'string', enum: ['failing', 'slow', 'normal'] },
          startTimeMs: { type: 'number', description: 'milliseconds since the epoch' },
          durationMs: { type: 'number' },
          spans: {
            type: 'array',
            description: 'in start order',
            items: {
              type: 'object',
              properties: {
                spanId: { type: 'string' },
                parentSpanId: { type: 'string' },
                service: { type: 'string' },
                name: { type: 'string' },
                kind: { type: 'string' },
                startTimeMs: { type: 'number' },
                durationMs: { type: 'number' },
                status: { type: 'string', enum: ['unset', 'ok', 'error'] },
                statusMessage: { type: 'string' },
                attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
              },
            },
          },
        },
      },
      Silence: {
        type: 'object',
        required: ['matchers', 'startsAt', 'endsAt', 'createdBy', 'comment'],
        properties: {
          id: { type: 'string' },
          matchers: { type: 'array', items: { type: 'object', required: ['name', 'value', 'isRegex'], properties: { name: { type: 'string' }, value: { type: 'string' }, isRegex: { type: 'boolean' }, isEqual: { type: 'boolean' } } } },
          startsAt: { type: 'string', format: 'date-time' },
          endsAt: { type: 'string', format: 'date-time' },
          createdBy: { type: 'string' },
          comment: { type: 'string' },
        },
      },
      Remediation: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          incidentId: { type: 'string' },
          playbookId: { type: 'string' },
          service: { type: 'string' },
          status: { type: 'string' },
          startedAt: { type: 'string', format: 'date-time' },
          updatedAt: { type: 'string', format: 'date-time' },
        },
      },
      RemediationDetail: {
        allOf: [
          { $ref: '#/components/schemas/Remediation' },
          {
            type: 'object',
            properties: {
              plan: { type: 'object' },
              steps: { type: 'array', items: { $ref: '#/components/schemas/RemediationStep' } },
              verification: { type: ['object', 'null'] },
              rollback: { type: 'array', items: { $ref: '#/components/schemas/RemediationStep' } },
              refusal: { type: 'string' },
              failure: { type: 'string' },
              escalation: { type: 'string' },
              timeline: { type: 'array', items: { type: 'object', properties: { type: { type: 'string' }, occurredAt: { type: 'string' }, data: { type: 'object' } } } },
            },
          },
        ],
      },
      RemediationStep: {
        type: 'object',
        properties: {
          phase: { type: 'string', enum: ['steps', 'rollback'] },
          step: { type: 'integer' },
          name: { type: 'string' },
          action: { type: 'string' },
          attempts: { type: 'integer' },
          startedAt: { type: 'string', format: 'date-time' },
          finishedAt: { type: 'string', format: 'date-time' },
          outcome: { type: 'string', enum: ['succeeded', 'failed'] },
          detail: { type: 'string' },
          error: { type: 'string' },
          dryRun: { type: 'boolean' },
          idempotencyKey: { type: 'string' },
        },
      },
      Edge: { type: 'object', properties: { caller: { type: 'string' }, callee: { type: 'string' }, calls: { type: 'number' }, errors: { type: 'number' }, errorRate: { type: 'number' } } },
    },
  },
} as const;
