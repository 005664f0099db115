-- Detection runs in the collectors (stage 1), each for the services whose telemetry partitions it holds.
-- `service_partitions`: the partition index each service's records are keyed to (the same in every otel.*
-- topic), as the collectors applied them: who detects for a service, and which checkpoint holds its state.
CREATE TABLE service_partitions (
  service          text PRIMARY KEY,
  partition_index  integer NOT NULL,
  seen_at          timestamptz NOT NULL DEFAULT now()
);

-- The detectors' checkpoint per partition index (-1: one analyzer detecting for every service).
ALTER TABLE detector_checkpoints ADD COLUMN partition_index integer NOT NULL DEFAULT -1;
ALTER TABLE detector_checkpoints DROP CONSTRAINT detector_checkpoints_pkey;
ALTER TABLE detector_checkpoints ADD PRIMARY KEY (resolution_seconds, partition_index);

-- The baselines the incident policy froze when its open incidents began (hysteresis), per service and
-- signal: the judge writes them after each pass, the collectors' detectors read them.
CREATE TABLE frozen_baselines (
  service   text NOT NULL,
  signal    text NOT NULL,
  baseline  double precision NOT NULL,
  PRIMARY KEY (service, signal)
);
