-- The Postgres-backed log of the embedded default: records per topic partition, consumer offsets.
CREATE TABLE log_partitions (
  topic        text NOT NULL,
  partition    integer NOT NULL,
  next_offset  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (topic, partition)
);

CREATE TABLE log_records (
  topic        text NOT NULL,
  partition    integer NOT NULL,
  "offset"     bigint NOT NULL,
  key          text,
  value        bytea NOT NULL,
  headers      jsonb NOT NULL DEFAULT '{}',
  appended_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, partition, "offset")
);

CREATE TABLE log_offsets (
  group_id   text NOT NULL,
  topic      text NOT NULL,
  partition  integer NOT NULL,
  committed  bigint NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
);
