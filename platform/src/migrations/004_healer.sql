-- Healer projection: one remediation per incident, its progress.
CREATE TABLE remediations (
  id           text PRIMARY KEY,
  incident_id  text NOT NULL UNIQUE,
  playbook_id  text NOT NULL,
  service      text NOT NULL,
  status       text NOT NULL,
  started_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);
