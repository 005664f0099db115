-- Followers of the events table (the console's event stream) LISTEN instead of polling: every
-- statement that appends events notifies `heph_events`, delivered when its transaction commits.
-- Identical notifications of one transaction fold into one.
CREATE FUNCTION heph_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('heph_events', '');
  RETURN NULL;
END
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION heph_events_notify();
