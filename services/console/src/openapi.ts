// The OpenAPI 3.1 description of the console API, served at /api/openapi.json.
const problem = { $ref: '#/components/schemas/Problem' };
const errors = (...codes: number[]) =>
  Object.fromEntries(codes.map((code) => [String(code), { description: 'a problem', content: { 'application/problem+json': { schema: problem } } }]));
const json = (schema: object, description = 'OK') => ({ description, content: { 'application/json': { schema } } });
const id = { name: 'id', in: 'path', required: true, schema: { type: 'string' } };
const actionBody = {
  required: false,
  content: { 'application/json': { schema: { type: 'object', properties: { by: { type: 'string' }, reason: { type: 'string' } } } } },
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: { title: 'Hephaestus console API', version: '0.1.0', description: 'Incidents, silences, services, series and topology of the Hephaestus control plane.' },
  security: [{}, { bearer: [] }],
  paths: {
    '/api/incidents': {
      get: {
        summary: 'List incidents, newest first',
        parameters: [{ name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'resolved'] } }],
        responses: { '200': json({ type: 'object', properties: { incidents: { type: 'array', items: { $ref: '#/components/schemas/Incident' } } } }), ...errors(400, 401) },
      },
    },
    '/api/incidents/{id}': {
      get: { summary: 'One incident with its timeline, evidence, root-cause candidates and exemplar traces', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(401, 404) } },
    },
    '/api/incidents/{id}/ack': {
      post: { summary: 'Acknowledge an open incident', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(400, 401, 404, 409) } },
    },
    '/api/incidents/{id}/resolve': {
      post: { summary: 'Resolve an open incident by hand', parameters: [id], requestBody: actionBody, responses: { '200': json({ $ref: '#/components/schemas/IncidentDetail' }), ...errors(400, 401, 404, 409) } },
    },
    '/api/silences': {
      get: { summary: 'List silences (Alertmanager API v2 shape)', responses: { '200': json({ type: 'array', items: { $ref: '#/components/schemas/Silence' } }), ...errors(401) } },
      post: { summary: 'Create a silence', requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Silence' } } } }, responses: { '200': json({ type: 'object', properties: { silenceID: { type: 'string' } } }), ...errors(400, 401) } },
    },
    '/api/silences/{id}': {
      get: { summary: 'One silence', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/Silence' }), ...errors(401, 404) } },
      delete: { summary: 'Expire a silence', parameters: [id], responses: { '200': json({ $ref: '#/components/schemas/Silence' }, 'the expired silence'), ...errors(401, 404) } },
    },
    '/api/services': { get: { summary: 'Services seen in telemetry, with recent load and open incidents', responses: { '200': json({ type: 'object' }), ...errors(401) } } },
    '/api/services/{name}/series': {
      get: {
        summary: "One signal's series for a service",
        parameters: [
          { name: 'name', in: 'path', required: true, schema: { type: 'string' } },
          { name: 'signal', in: 'query', required: true, schema: { type: 'string' }, description: 'calls, errors, error_rate, latency.p50_ms|p95_ms|p99_ms, gen_ai.*, logs.*, or any OTLP metric name' },
          { name: 'operation', in: 'query', schema: { type: 'string' }, description: 'the model, for gen_ai.* signals' },
          { name: 'from', in: 'query', schema: { type: 'string', format: 'date-time' } },
          { name: 'to', in: 'query', schema: { type: 'string', format: 'date-time' } },
        ],
        responses: { '200': json({ type: 'object', properties: { points: { type: 'array', items: { type: 'object', properties: { time: { type: 'string' }, value: { type: 'number' }, resolutionSeconds: { type: 'integer' } } } } } }), ...errors(400, 401) },
      },
    },
    '/api/topology': { get: { summary: 'The service dependency graph learned from spans', responses: { '200': json({ type: 'object', properties: { services: { type: 'array', items: { type: 'string' } }, edges: { type: 'array', items: { $ref: '#/components/schemas/Edge' } } } }), ...errors(401) } } },
    '/api/openapi.json': { get: { summary: 'This document', security: [{}], responses: { '200': json({ type: 'object' }) } } },
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'when HEPH_CONSOLE_TOKENS is set' } },
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
      Edge: { type: 'object', properties: { caller: { type: 'string' }, callee: { type: 'string' }, calls: { type: 'number' }, errors: { type: 'number' }, errorRate: { type: 'number' } } },
    },
  },
} as const;
