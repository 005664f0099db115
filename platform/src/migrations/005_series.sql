-- Every signal as a series per (service, operation, signal) and resolution; metric stream state for
-- differencing cumulative counters.
CREATE TABLE series (
  service             text NOT NULL,
  operation           text NOT NULL,
  signal              text NOT NULL,
  resolution_seconds  integer NOT NULL,
  bucket_start        timestamptz NOT NULL,
  aggregation         text NOT NULL,
  sum                 double precision NOT NULL,
  count               double precision NOT NULL,
  min                 double precision NOT NULL,
  max                 double precision NOT NULL,
  PRIMARY KEY (service, signal, operation, resolution_seconds, bucket_start)
);
CREATE INDEX series_recent ON series (resolution_seconds, bucket_start);

CREATE TABLE metric_streams (
  stream  text PRIMARY KEY,
  state   jsonb NOT NULL
);
