-- Writing cases. The database holds the rules, so no path (the API, a script, psql) can
-- skip them: a version per case for optimistic concurrency; the lifecycle as a table of
-- allowed steps, checked by a trigger; an append-only event for every change, written by
-- the database itself with the actor the writer set in its transaction (Hasura's way);
-- case numbers without gaps per district and year; and idempotency keys.

-- 1. Versions: every change of a case raises its version by one (case_guard below).
ALTER TABLE "case" ADD COLUMN version integer NOT NULL DEFAULT 1 CHECK (version > 0);

-- 2. The lifecycle: received → accepted → mediating → settled | not_settled, transfer out
-- from any open status, and reopening a closed case (settled or not settled back to
-- mediating, transferred back to accepted). ``kind`` names the step in the case's events.
CREATE TABLE case_transition (
    from_status  text NOT NULL,
    to_status    text NOT NULL,
    kind         text NOT NULL,
    PRIMARY KEY (from_status, to_status)
);
INSERT INTO case_transition (from_status, to_status, kind) VALUES
    ('received',    'accepted',    'accepted'),
    ('accepted',    'mediating',   'mediation_started'),
    ('mediating',   'settled',     'settled'),
    ('mediating',   'not_settled', 'closed_unsettled'),
    ('received',    'transferred', 'transferred'),
    ('accepted',    'transferred', 'transferred'),
    ('mediating',   'transferred', 'transferred'),
    ('settled',     'mediating',   'reopened'),
    ('not_settled', 'mediating',   'reopened'),
    ('transferred', 'accepted',    'reopened');

-- 3. What an event records beyond its status: the kind of change, who made it (credential
-- and role), the request, and the changed columns' old and new values. Never the
-- consumer's name or phone: those stay on the case row alone.
ALTER TABLE case_event
    ADD COLUMN kind text NOT NULL DEFAULT 'status_changed' CHECK (kind IN (
        'status_changed', 'opened', 'accepted', 'mediation_started', 'settled', 'closed_unsettled',
        'transferred', 'reopened', 'note_added', 'corrected', 'changed')),
    ADD COLUMN actor_credential text,
    ADD COLUMN actor_role text,
    ADD COLUMN request_id text,
    ADD COLUMN changes jsonb NOT NULL DEFAULT '{}' CHECK (
        jsonb_typeof(changes) = 'object' AND NOT changes ?| ARRAY['consumer_name', 'consumer_phone']);

-- Before a case changes: only allowed steps; a closed case changes only by reopening; the
-- number never changes; the version goes up by one.
CREATE FUNCTION case_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.number IS DISTINCT FROM OLD.number OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'a case''s number never changes' USING ERRCODE = 'check_violation', CONSTRAINT = 'case_number_fixed';
    END IF;
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NOT EXISTS (SELECT 1 FROM case_transition WHERE from_status = OLD.status AND to_status = NEW.status) THEN
            RAISE EXCEPTION 'a case cannot go from % to %', OLD.status, NEW.status
                USING ERRCODE = 'check_violation', CONSTRAINT = 'case_transition';
        END IF;
    ELSIF OLD.status IN ('settled', 'not_settled', 'transferred') THEN
        RAISE EXCEPTION 'case % is closed; reopen it to change it', OLD.number
            USING ERRCODE = 'check_violation', CONSTRAINT = 'case_closed';
    END IF;
    NEW.version := OLD.version + 1;
    RETURN NEW;
END $$;

CREATE TRIGGER case_guard BEFORE UPDATE ON "case" FOR EACH ROW EXECUTE FUNCTION case_guard();

-- After a case is written: its event. The writer names itself with transaction-local
-- settings (set_config(..., true)): liaison.actor (the credential), liaison.actor_role,
-- liaison.request_id, liaison.note, and liaison.detail (a JSON object merged into the
-- event's changes, e.g. where a case was transferred to). An insert without liaison.actor is a load of history
-- that brings its own events (the demo, `liaison volume`); an update always gets an event,
-- from plain SQL too (actor sql:<user>, role database). The new event's id is left in
-- liaison.event_id for the writer to read back.
CREATE FUNCTION case_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    actor      text := nullif(current_setting('liaison.actor', true), '');
    new_row    jsonb := to_jsonb(NEW) - 'id' - 'version' - 'consumer_name' - 'consumer_phone';
    old_row    jsonb := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) ELSE '{}' END;
    changed    jsonb := '{}';
    event_kind text;
    column_name text;
    event_id   bigint;
BEGIN
    IF TG_OP = 'INSERT' AND actor IS NULL THEN
        RETURN NULL;
    END IF;
    FOR column_name IN SELECT jsonb_object_keys(new_row) LOOP
        IF (new_row -> column_name) IS DISTINCT FROM (old_row -> column_name)
           AND NOT (TG_OP = 'INSERT' AND new_row -> column_name = 'null') THEN
            changed := changed || jsonb_build_object(column_name,
                jsonb_build_object('from', old_row -> column_name, 'to', new_row -> column_name));
        END IF;
    END LOOP;
    changed := changed || coalesce(nullif(current_setting('liaison.detail', true), '')::jsonb, '{}');
    IF TG_OP = 'INSERT' THEN
        event_kind := 'opened';
    ELSIF NEW.status <> OLD.status THEN
        SELECT kind INTO event_kind FROM case_transition WHERE from_status = OLD.status AND to_status = NEW.status;
    ELSIF changed = '{}' THEN
        event_kind := 'note_added';
    ELSIF changed - 'kind' - 'category' - 'respondent_enterprise_id' = '{}' THEN
        event_kind := 'corrected';
    ELSE
        event_kind := 'changed';
    END IF;
    INSERT INTO case_event (case_id, at, status, actor, note, kind, actor_credential, actor_role, request_id, changes)
    VALUES (NEW.id, now(), NEW.status, coalesce(actor, 'sql:' || session_user),
            coalesce(current_setting('liaison.note', true), ''), event_kind, actor,
            coalesce(nullif(current_setting('liaison.actor_role', true), ''), 'database'),
            nullif(current_setting('liaison.request_id', true), ''), changed)
    RETURNING id INTO event_id;
    PERFORM set_config('liaison.event_id', event_id::text, true);
    RETURN NULL;
END $$;

CREATE TRIGGER case_audit AFTER INSERT OR UPDATE ON "case" FOR EACH ROW EXECUTE FUNCTION case_audit();

-- Events are the record: once written, never changed or removed.
CREATE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'case events are append-only: % refused', TG_OP
        USING ERRCODE = 'integrity_constraint_violation', CONSTRAINT = 'case_event_append_only';
END $$;

CREATE TRIGGER case_event_append_only BEFORE UPDATE OR DELETE ON case_event
    FOR EACH ROW EXECUTE FUNCTION case_event_append_only();

-- 4. Case numbers: the last sequence number issued per district and year. Intake
-- increments its row in its own transaction, so numbers are issued in order, and a
-- rolled-back intake gives its number back. Seeded from the six-digit numbers already
-- used (seven-digit ones are `liaison volume`'s own range).
CREATE TABLE case_number_counter (
    district_code  text NOT NULL REFERENCES district (code),
    year           integer NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    last           integer NOT NULL CHECK (last BETWEEN 0 AND 999999),
    PRIMARY KEY (district_code, year)
);
INSERT INTO case_number_counter (district_code, year, last)
SELECT substr(number, 2, 6), substr(number, 9, 4)::int, max(substr(number, 14)::int)
  FROM "case" WHERE char_length(number) = 19 GROUP BY 1, 2;

-- 5. Idempotency keys (Stripe's design): claimed in the writer's transaction, per
-- credential and mutation, with a hash of the input and the result it produced.
CREATE TABLE idempotency_key (
    credential    text NOT NULL,
    mutation      text NOT NULL,
    key           text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    input_sha256  bytea NOT NULL CHECK (octet_length(input_sha256) = 32),
    case_id       bigint NOT NULL REFERENCES "case" (id),
    event_id      bigint REFERENCES case_event (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (credential, mutation, key),
    CHECK (expires_at > created_at)
);
CREATE INDEX idempotency_key_expires_idx ON idempotency_key (expires_at);
