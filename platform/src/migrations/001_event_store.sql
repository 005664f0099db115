-- The append-only event store (it is also the outbox for heph.events) and projection checkpoints.
CREATE TABLE events (
  position     bigserial PRIMARY KEY,
  id           uuid NOT NULL UNIQUE,
  stream_id    text NOT NULL,
  version      integer NOT NULL,
  type         text NOT NULL,
  occurred_at  timestamptz NOT NULL,
  data         jsonb NOT NULL,
  metadata     jsonb NOT NULL DEFAULT '{}',
  UNIQUE (stream_id, version)
);
CREATE INDEX events_type ON events (type, position);

CREATE TABLE checkpoints (
  name      text PRIMARY KEY,
  position  bigint NOT NULL
);
