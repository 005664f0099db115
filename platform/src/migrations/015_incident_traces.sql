-- Exemplar traces of incidents, for the console's waterfall: a few whole traces (failing, slowest, a
-- normal one) of a service, stored when its signal opens or joins an incident. The analyzer owns the
-- table; it bounds the traces per incident and deletes rows past the retention of minute buckets.
CREATE TABLE incident_traces (
  incident_id     text NOT NULL,
  trace_id        text NOT NULL,
  span_id         text NOT NULL,
  parent_span_id  text,
  reason          text NOT NULL,
  service         text NOT NULL,
  name            text NOT NULL,
  kind            text NOT NULL,
  start_time_ms   double precision NOT NULL,
  duration_ms     double precision NOT NULL,
  status          text NOT NULL,
  status_message  text,
  attributes      jsonb NOT NULL DEFAULT '{}',
  stored_at       timestamptz NOT NULL,
  PRIMARY KEY (incident_id, trace_id, span_id)
);
CREATE INDEX incident_traces_stored_at ON incident_traces (stored_at);
