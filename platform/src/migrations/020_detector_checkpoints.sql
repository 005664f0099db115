-- The series watch's checkpoint, one per resolution: every series' detector state and recent values
-- (v8-serialized), as of `through` (the buckets judged so far). At start the analyzer resumes from it
-- and replays only the buckets after `through`, instead of rebuilding every detector from an hour of
-- stored buckets (which forgets what the seasonal baselines learnt over days and weeks).
CREATE TABLE detector_checkpoints (
  resolution_seconds  integer PRIMARY KEY,
  through             timestamptz NOT NULL,
  series              integer NOT NULL,
  state               bytea NOT NULL,
  saved_at            timestamptz NOT NULL DEFAULT now()
);
