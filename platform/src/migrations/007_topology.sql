-- The service dependency graph learned from spans (a projection the analyzer refreshes).
CREATE TABLE topology_edges (
  caller      text NOT NULL,
  callee      text NOT NULL,
  calls       double precision NOT NULL,
  errors      double precision NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (caller, callee)
);
