-- Silences projection (from silence.created / silence.expired events) and incident labels for routing.
CREATE TABLE silences (
  id          text PRIMARY KEY,
  matchers    jsonb NOT NULL,
  starts_at   timestamptz NOT NULL,
  ends_at     timestamptz NOT NULL,
  created_by  text NOT NULL,
  comment     text NOT NULL,
  updated_at  timestamptz NOT NULL
);
CREATE INDEX silences_ends ON silences (ends_at);

ALTER TABLE incidents ADD COLUMN labels jsonb NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE incidents ADD COLUMN acknowledged_by text;
ALTER TABLE incidents ADD COLUMN mitigated_at timestamptz;
