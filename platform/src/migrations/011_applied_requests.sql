-- Request ids the analyzer has applied (ingest's heph-request-id header), written in the transaction
-- of the rollups they fed, so an exporter's retry of a write that timed out after the log kept it is
-- counted once. Kept for an hour (pruned by applied_at): exporters give up retrying long before.
CREATE TABLE applied_requests (
  request_id  text PRIMARY KEY,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX applied_requests_applied_at ON applied_requests (applied_at);

