-- Enterprises, their brands and stores, and the programmes that contact points and
-- enterprises join (放心消费, 线下无理由退换货, ODR, 长三角异地异店退换货, 先行赔付).

-- 统一社会信用代码: 18 characters from the GB 32100 alphabet (no I, O, S, V, Z).
CREATE TABLE enterprise (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    credit_code    text NOT NULL UNIQUE CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    name           text NOT NULL CHECK (name <> ''),
    name_en        text,
    district_code  text NOT NULL REFERENCES district (code)
);
CREATE INDEX enterprise_district_idx ON enterprise (district_code);

CREATE TABLE brand (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    enterprise_id  bigint NOT NULL REFERENCES enterprise (id),
    name           text NOT NULL CHECK (name <> ''),
    name_en        text,
    UNIQUE (enterprise_id, name)
);

-- A physical store. The code embeds its district: ST310115-00001.
CREATE TABLE store (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code           text NOT NULL UNIQUE CHECK (code ~ '^ST[1-9][0-9]{5}-[0-9]{5}$'),
    enterprise_id  bigint NOT NULL REFERENCES enterprise (id),
    brand_id       bigint REFERENCES brand (id),
    name           text NOT NULL CHECK (name <> ''),
    name_en        text,
    district_code  text NOT NULL REFERENCES district (code),
    address        text NOT NULL,
    UNIQUE (id, enterprise_id),
    CHECK (substr(code, 3, 6) = district_code)
);
CREATE INDEX store_enterprise_idx ON store (enterprise_id, code);
CREATE INDEX store_district_idx ON store (district_code, code);
CREATE INDEX store_brand_idx ON store (brand_id);

CREATE TABLE programme (
    code                  text PRIMARY KEY CHECK (code IN (
                              'reassured_consumption', 'offline_no_reason_return', 'odr',
                              'yrd_cross_store_return', 'pre_compensation')),
    name                  text NOT NULL,
    name_en               text NOT NULL,
    launched_on           date,
    description           text NOT NULL,
    -- the least committed return period members must offer, in days
    min_committed_days    smallint CHECK (min_committed_days > 0)
);

-- A contact point or an enterprise taking part in a programme over a period.
CREATE TABLE programme_membership (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    programme_code    text NOT NULL REFERENCES programme (code),
    contact_point_id  bigint REFERENCES contact_point (id),
    enterprise_id     bigint REFERENCES enterprise (id),
    -- 放心消费 levels: 优秀 excellent, 达标 compliant, 承诺 committed
    level             text CHECK (level IN ('excellent', 'compliant', 'committed')),
    -- ODR enterprises' class (Jinshan): A large, B mid-size, C small
    odr_class         text CHECK (odr_class IN ('A', 'B', 'C')),
    committed_days    smallint CHECK (committed_days >= 7),
    started_on        date NOT NULL,
    ended_on          date,
    CHECK (num_nonnulls(contact_point_id, enterprise_id) = 1),
    CHECK ((level IS NOT NULL) = (programme_code = 'reassured_consumption')),
    CHECK (odr_class IS NULL OR programme_code = 'odr'),
    CHECK (committed_days IS NULL
           OR programme_code IN ('offline_no_reason_return', 'yrd_cross_store_return')),
    CHECK (ended_on IS NULL OR ended_on >= started_on)
);
CREATE INDEX membership_contact_point_idx ON programme_membership (contact_point_id, programme_code)
    WHERE contact_point_id IS NOT NULL;
CREATE INDEX membership_enterprise_idx ON programme_membership (enterprise_id, programme_code)
    WHERE enterprise_id IS NOT NULL;
CREATE INDEX membership_programme_idx ON programme_membership (programme_code, level, id);
