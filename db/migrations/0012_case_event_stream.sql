-- The stream of case events that subscriptions deliver, in commit order.
--
-- An event's id is drawn when it is inserted, not when its transaction commits: two
-- writers can commit out of id order, so a reader that went on from the highest id it had
-- seen could skip an event that committed after it looked. Each streamed event therefore
-- gets a position when its transaction commits: a deferred constraint trigger takes the
-- row lock of case_event_clock (held until commit), then draws the position. A second
-- writer waits on that lock until the first has committed and is visible, so positions
-- are handed out in commit order, and a reader that has seen position N has seen every
-- position below it. A position lost to a rollback at commit leaves a gap, never a
-- misordering. The lock is held only from the commit's own triggers to the commit.
--
-- Streamed are the events the database writes itself (case_audit: every change through
-- the API or plain SQL carries an actor role); a load of history that brings its own
-- events (the demo, `liaison volume`) has none and is not streamed.
--
-- NOTIFY carries the position only (a wake-up for each service process's one listener);
-- the event is read back through the access layer. Notifications are delivered in
-- commit order. api_key changes notify too, so a revoked key ends its subscriptions in
-- every process at once.

CREATE TABLE case_event_clock (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row)
);
INSERT INTO case_event_clock DEFAULT VALUES;

CREATE TABLE case_event_position (
    position      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      bigint NOT NULL UNIQUE REFERENCES case_event (id),
    committed_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION case_event_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    given bigint;
BEGIN
    PERFORM 1 FROM case_event_clock FOR NO KEY UPDATE;
    INSERT INTO case_event_position (event_id) VALUES (NEW.id) RETURNING position INTO given;
    PERFORM pg_notify('liaison_case_event', given::text);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER case_event_position AFTER INSERT ON case_event
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.actor_role IS NOT NULL)
    EXECUTE FUNCTION case_event_position();

-- A position is part of its event's record: append-only as the event (0008).
CREATE TRIGGER case_event_position_append_only BEFORE UPDATE OR DELETE ON case_event_position
    FOR EACH ROW EXECUTE FUNCTION case_event_append_only();

CREATE FUNCTION api_key_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('liaison_api_key', NEW.public_id);
    RETURN NULL;
END $$;

CREATE TRIGGER api_key_changed AFTER UPDATE OF revoked_at, expires_at ON api_key
    FOR EACH ROW EXECUTE FUNCTION api_key_changed();
