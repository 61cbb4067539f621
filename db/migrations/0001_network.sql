-- The liaison network: regions, districts, contact points, star ratings, honours.
-- Codes are the keys partners share (GB/T 2260 for regions and districts); surrogate
-- ids exist only where no natural key is published. Enumerations are text with CHECK
-- constraints, so adding a value is one ALTER, and plain PostgreSQL >= 15 suffices.

CREATE TABLE region (
    code        text PRIMARY KEY CHECK (code ~ '^[1-9][0-9]0000$'),
    name        text NOT NULL CHECK (name <> ''),
    name_en     text,
    is_partner  boolean NOT NULL DEFAULT false
);

CREATE TABLE district (
    code        text PRIMARY KEY CHECK (code ~ '^[1-9][0-9]{5}$' AND code !~ '0000$'),
    region_code text NOT NULL REFERENCES region (code),
    name        text NOT NULL CHECK (name <> ''),
    name_en     text,
    kind        text NOT NULL CHECK (kind IN ('district', 'city')),
    CHECK (left(code, 2) = left(region_code, 2))
);
CREATE INDEX district_region_idx ON district (region_code, code);

-- 消费维权联络点 / 联络站. The code embeds the district code: CP310115-00001.
CREATE TABLE contact_point (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code                  text NOT NULL UNIQUE CHECK (code ~ '^CP[1-9][0-9]{5}-[0-9]{5}$'),
    name                  text NOT NULL CHECK (name <> ''),
    name_en               text,
    district_code         text NOT NULL REFERENCES district (code),
    street_town           text NOT NULL CHECK (street_town <> ''),
    -- residential_committee: 村居委; the five-into (五进) kinds: market_mall (商场超市市场),
    -- scenic_area, school, barracks, enterprise; others: shop, other.
    host_kind             text NOT NULL CHECK (host_kind IN (
                              'residential_committee', 'market_mall', 'scenic_area',
                              'school', 'barracks', 'enterprise', 'shop', 'other')),
    address               text NOT NULL,
    established_on        date NOT NULL,
    uses_wecom            boolean NOT NULL DEFAULT false,
    has_online_mediation  boolean NOT NULL DEFAULT false,
    CHECK (substr(code, 3, 6) = district_code)
);
CREATE INDEX contact_point_district_idx ON contact_point (district_code, code);
CREATE INDEX contact_point_host_kind_idx ON contact_point (host_kind, district_code);

CREATE TABLE contact_point_honour (
    contact_point_id  bigint NOT NULL REFERENCES contact_point (id),
    -- 市级示范联络点; 浦东百佳联络点
    honour            text NOT NULL CHECK (honour IN ('municipal_demonstration', 'pudong_hundred_best')),
    awarded_on        date NOT NULL,
    PRIMARY KEY (contact_point_id, honour)
);
CREATE INDEX contact_point_honour_idx ON contact_point_honour (honour, contact_point_id);

-- A batch of star ratings announced by the city regulator after third-party assessment.
CREATE TABLE star_batch (
    number        smallint PRIMARY KEY CHECK (number > 0),
    announced_on  date NOT NULL UNIQUE,
    title         text NOT NULL
);

-- One award per contact point per batch. An upgrade points at the award it replaces.
CREATE TABLE star_award (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_point_id  bigint NOT NULL REFERENCES contact_point (id),
    batch             smallint NOT NULL REFERENCES star_batch (number),
    stars             smallint NOT NULL CHECK (stars IN (4, 5)),
    awarded_on        date NOT NULL,
    upgraded_from_id  bigint UNIQUE REFERENCES star_award (id),
    UNIQUE (contact_point_id, batch),
    CHECK (upgraded_from_id IS NULL OR stars = 5)
);
CREATE INDEX star_award_batch_idx ON star_award (batch, stars);

-- A contact point's current rating is its latest award: derived, never stored twice.
CREATE VIEW contact_point_current_rating AS
SELECT DISTINCT ON (contact_point_id)
       contact_point_id, id AS award_id, batch, stars, awarded_on
  FROM star_award
 ORDER BY contact_point_id, batch DESC;
