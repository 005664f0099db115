-- Which healer drives which remediation (owned by the healer): a healer acts on a remediation only
-- while it holds the lease, renews it while driving, and appends only if it still holds it. `fence`
-- grows with every new holder, so a healer that lost the lease cannot append another step.
CREATE TABLE remediation_leases (
  incident_id  text PRIMARY KEY,
  owner        text NOT NULL,
  expires_at   timestamptz NOT NULL,
  fence        bigint NOT NULL
);
