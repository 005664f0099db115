-- Exemplar trace ids of failing calls per rollup bucket, for incidents' evidence and root-cause ranking.
ALTER TABLE rollups ADD COLUMN error_trace_ids text[] NOT NULL DEFAULT '{}';
