-- The correlator's checkpoint, one per resolution: the dependency graph learned from spans, the error
-- signature miner's templates, each signature's recent counts (what counts as new or surging) and each
-- service's signatures, as of `saved_at` (v8-serialized). An analyzer that starts, or a standby that
-- takes over, resumes from it instead of meeting every known error again as a new signature and the
-- fleet's calls as an empty graph. Exemplar traces are not kept here: an incident keeps its own
-- (incident_traces).
CREATE TABLE correlator_checkpoints (
  resolution_seconds  integer PRIMARY KEY,
  state               bytea NOT NULL,
  saved_at            timestamptz NOT NULL DEFAULT now()
);
