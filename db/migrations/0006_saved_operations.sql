-- Saved operations: named, versioned GraphQL documents that internal tools run by name
-- and that trusted-only clients may send by hash. A version never changes once saved:
-- a new document is a new version; deprecating only marks it.

CREATE TABLE saved_operation (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name            text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_]{0,99}$'),
    version         integer NOT NULL CHECK (version > 0),
    document        text NOT NULL CHECK (document <> ''),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    operation_name  text NOT NULL,
    description     text NOT NULL DEFAULT '',
    owner           text NOT NULL CHECK (owner <> ''),
    created_at      timestamptz NOT NULL DEFAULT now(),
    deprecated_at   timestamptz,
    UNIQUE (name, version)
);
CREATE INDEX saved_operation_sha256_idx ON saved_operation (sha256);

CREATE FUNCTION saved_operation_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'saved operations are never deleted; deprecate them' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF (NEW.name, NEW.version, NEW.document, NEW.sha256, NEW.operation_name, NEW.owner, NEW.created_at)
       IS DISTINCT FROM (OLD.name, OLD.version, OLD.document, OLD.sha256, OLD.operation_name, OLD.owner, OLD.created_at) THEN
        RAISE EXCEPTION 'a saved version is immutable; save a new version' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER saved_operation_immutable BEFORE UPDATE OR DELETE ON saved_operation
    FOR EACH ROW EXECUTE FUNCTION saved_operation_immutable();

-- A credential can be held to stored documents only (frontends in production).
ALTER TABLE api_key ADD COLUMN trusted_only boolean NOT NULL DEFAULT false;
