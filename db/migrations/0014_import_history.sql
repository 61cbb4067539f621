-- Imports of the regulator's registers (`liaison import`, POST /imports): one row per
-- applied import, in the import's own transaction, so a row here means the file's rows
-- were written. Dry runs write nothing, here included.
CREATE TABLE import_run (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL CHECK (kind ~ '^[a-z]+(-[a-z]+)*$'),
    file_name     text NOT NULL,
    file_sha256   bytea NOT NULL CHECK (octet_length(file_sha256) = 32),
    file_bytes    bigint NOT NULL CHECK (file_bytes >= 0),
    -- who: the credential (API key id or token subject) or `cli:<user>`, and its role
    actor         text NOT NULL,
    actor_role    text NOT NULL,
    imported_at   timestamptz NOT NULL DEFAULT now(),
    rows          integer NOT NULL CHECK (rows >= 0),
    created       integer NOT NULL CHECK (created >= 0),
    updated       integer NOT NULL CHECK (updated >= 0),
    unchanged     integer NOT NULL CHECK (unchanged >= 0),
    CHECK (created + updated + unchanged = rows)
);
CREATE INDEX import_run_sha256_idx ON import_run (file_sha256);
CREATE INDEX import_run_kind_idx ON import_run (kind, imported_at DESC);
