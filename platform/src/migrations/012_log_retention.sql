-- Retention of the Postgres-backed log: bytes (keys and values) per partition, kept as records are
-- written and deleted, so the size check reads one row per partition; and when each consumer group
-- last committed, so a group gone longer than the retention age no longer holds records back.
ALTER TABLE log_partitions ADD COLUMN bytes bigint NOT NULL DEFAULT 0;
UPDATE log_partitions p SET bytes = coalesce((
  SELECT sum(octet_length(r.value) + coalesce(octet_length(r.key), 0)) FROM log_records r
  WHERE r.topic = p.topic AND r.partition = p.partition), 0);
ALTER TABLE log_offsets ADD COLUMN committed_at timestamptz NOT NULL DEFAULT now();
