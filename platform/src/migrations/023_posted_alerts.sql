-- Alerts posted to the console's Alertmanager API (POST /api/v2/alerts) by other tools, by fingerprint
-- until they end: every console process of a deployment lists the same ones, and a restart keeps them.
CREATE TABLE posted_alerts (
  fingerprint    text PRIMARY KEY,
  labels         jsonb NOT NULL,
  annotations    jsonb NOT NULL,
  starts_at      timestamptz NOT NULL,
  ends_at        timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL,
  generator_url  text
);
CREATE INDEX posted_alerts_ends_at ON posted_alerts (ends_at);
