-- Two gaps in 0008's rules.
--
-- 1. A transfer to another contact point hands the case over: it moves to that point and
-- is received there anew, open, for the new point to accept and mediate; its number stays.
-- (A transfer to 12315 or the district bureau still closes it here as ``transferred``.)
-- The step has its own kind, ``handed_over``, and the guard ties the two columns together:
-- a case changes point only by being received anew there, and goes back to received only
-- by changing point.
ALTER TABLE case_event DROP CONSTRAINT case_event_kind_check;
ALTER TABLE case_event ADD CONSTRAINT case_event_kind_check CHECK (kind IN (
    'status_changed', 'opened', 'accepted', 'mediation_started', 'settled', 'closed_unsettled',
    'transferred', 'handed_over', 'reopened', 'note_added', 'corrected', 'changed'));

INSERT INTO case_transition (from_status, to_status, kind) VALUES
    ('received',  'received', 'handed_over'),
    ('accepted',  'received', 'handed_over'),
    ('mediating', 'received', 'handed_over');

CREATE OR REPLACE FUNCTION case_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.number IS DISTINCT FROM OLD.number OR NEW.id IS DISTINCT FROM OLD.id THEN
        RAISE EXCEPTION 'a case''s number never changes' USING ERRCODE = 'check_violation', CONSTRAINT = 'case_number_fixed';
    END IF;
    IF NEW.contact_point_id IS DISTINCT FROM OLD.contact_point_id
       AND NOT (NEW.status = 'received' AND OLD.status IN ('received', 'accepted', 'mediating')) THEN
        RAISE EXCEPTION 'a case moves to another contact point only open, to be received there'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'case_handover';
    END IF;
    IF NEW.contact_point_id IS NOT DISTINCT FROM OLD.contact_point_id
       AND NEW.status = 'received' AND OLD.status <> 'received' THEN
        RAISE EXCEPTION 'a case cannot go from % to received but by a handover to another contact point', OLD.status
            USING ERRCODE = 'check_violation', CONSTRAINT = 'case_transition';
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

-- The audit as in 0008, with a handover named as such (its status may not change).
CREATE OR REPLACE FUNCTION case_audit() RETURNS trigger LANGUAGE plpgsql AS $$
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
    ELSIF NEW.contact_point_id <> OLD.contact_point_id THEN
        event_kind := 'handed_over';
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

-- 2. TRUNCATE fires no row trigger, so 0008's append-only rule did not hold for it. Refuse
-- it on the events, and on the cases, whose truncation would take their events with them.
CREATE TRIGGER case_event_append_only_truncate BEFORE TRUNCATE ON case_event
    FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only();
CREATE TRIGGER case_append_only_truncate BEFORE TRUNCATE ON "case"
    FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only();
