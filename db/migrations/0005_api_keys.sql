-- API keys: random secrets shown once at creation; only their SHA-256 is kept. The
-- public id (in the key itself: lgk_<public id>_<secret>) finds the row, then the hash
-- is compared in constant time. Scope: partner keys name their region, case officers'
-- keys the districts (or whole regions) whose consumers' data they may read.

CREATE TABLE api_key (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id      text NOT NULL UNIQUE CHECK (public_id ~ '^[0-9a-f]{12}$'),
    secret_sha256  bytea NOT NULL CHECK (octet_length(secret_sha256) = 32),
    role           text NOT NULL CHECK (role IN ('partner', 'internal', 'case_officer', 'admin')),
    region_codes   text[] NOT NULL DEFAULT '{}',
    district_codes text[] NOT NULL DEFAULT '{}',
    label          text NOT NULL CHECK (label <> ''),
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz,
    revoked_at     timestamptz,
    last_used_at   timestamptz,
    CHECK (role <> 'partner' OR (cardinality(region_codes) = 1 AND cardinality(district_codes) = 0)),
    CHECK (role <> 'case_officer' OR cardinality(region_codes) + cardinality(district_codes) > 0),
    CHECK (role IN ('partner', 'case_officer') OR cardinality(region_codes) + cardinality(district_codes) = 0),
    CHECK (expires_at IS NULL OR expires_at > created_at)
);
