// Normalized telemetry records: what the analyzer works on after decoding OTLP from the log.
import { z } from 'zod';

/** An OTLP AnyValue as plain data: ints are numbers when safe (else decimal strings), bytes are base64. */
export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

export const attributeValueSchema: z.ZodType<AttributeValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(attributeValueSchema), z.record(z.string(), attributeValueSchema)]),
);

const attributesSchema = z.record(z.string(), attributeValueSchema);
const traceIdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex digits');
const spanIdSchema = z.string().regex(/^[0-9a-f]{16}$/, 'expected 16 lowercase hex digits');
const unixNanoSchema = z.string().regex(/^\d+$/, 'expected nanoseconds since the epoch as a decimal string');

export const spanKindSchema = z.enum(['unspecified', 'internal', 'server', 'client', 'producer', 'consumer']);
export type SpanKind = z.infer<typeof spanKindSchema>;

export const spanStatusSchema = z.enum(['unset', 'ok', 'error']);
export type SpanStatus = z.infer<typeof spanStatusSchema>;

export const spanRecordSchema = z.object({
  service: z.string(),
  traceId: traceIdSchema,
  spanId: spanIdSchema,
  parentSpanId: spanIdSchema.optional(),
  name: z.string(),
  kind: spanKindSchema,
  startTimeUnixNano: unixNanoSchema,
  endTimeUnixNano: unixNanoSchema,
  startTimeMs: z.number(),
  durationMs: z.number().nonnegative(),
  status: spanStatusSchema,
  statusMessage: z.string().optional(),
  attributes: attributesSchema,
  resource: attributesSchema,
  scope: z.object({ name: z.string(), version: z.string().optional() }),
  events: z.array(z.object({ name: z.string(), timeUnixNano: unixNanoSchema, attributes: attributesSchema })),
  links: z.array(z.object({ traceId: traceIdSchema, spanId: spanIdSchema, attributes: attributesSchema })),
});

export type SpanRecord = z.infer<typeof spanRecordSchema>;
