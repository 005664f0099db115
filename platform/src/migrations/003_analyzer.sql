-- Analyzer state: per-service rollups, the offsets whose effects are applied, the incident projection.
CREATE TABLE rollups (
  service             text NOT NULL,
  resolution_seconds  integer NOT NULL,
  bucket_start        timestamptz NOT NULL,
  calls               bigint NOT NULL,
  errors              bigint NOT NULL,
  sketch              bytea NOT NULL,
  p50_ms              double precision,
  p95_ms              double precision,
  p99_ms              double precision,
  control_url         text,
  PRIMARY KEY (service, resolution_seconds, bucket_start)
);

-- Written in the same transaction as the effects of the messages before next_offset, so a replay
-- after a crash skips what was already counted.
CREATE TABLE applied_offsets (
  consumer     text NOT NULL,
  topic        text NOT NULL,
  partition    integer NOT NULL,
  next_offset  bigint NOT NULL,
  PRIMARY KEY (consumer, topic, partition)
);

CREATE TABLE incidents (
  id           text PRIMARY KEY,
  service      text NOT NULL,
  signal       text NOT NULL,
  status       text NOT NULL,
  severity     text NOT NULL,
  summary      text NOT NULL,
  opened_at    timestamptz NOT NULL,
  resolved_at  timestamptz,
  control_url  text,
  baseline     double precision NOT NULL,
  window_start timestamptz NOT NULL,
  version      integer NOT NULL
);
CREATE UNIQUE INDEX incidents_one_open ON incidents (service, signal) WHERE status = 'open';
