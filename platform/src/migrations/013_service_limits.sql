-- Limits a service reports for its own gauges, as `heph.limit.<signal>` resource attributes (e.g.
-- heph.limit.process.memory.usage = 1073741824): failure prediction uses them beside HEPH_LIMITS.
CREATE TABLE service_limits (
  service     text NOT NULL,
  signal      text NOT NULL,
  limit_value double precision NOT NULL,
  reported_at timestamptz NOT NULL,
  PRIMARY KEY (service, signal)
);
