-- Each service.version seen in telemetry per service, so the healer can tell when a merged fix is live.
CREATE TABLE service_versions (
  service     text NOT NULL,
  version     text NOT NULL,
  first_seen  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  PRIMARY KEY (service, version)
);
CREATE INDEX service_versions_first_seen ON service_versions (service, first_seen);
