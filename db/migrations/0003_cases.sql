-- Cases handled at contact points, their lifecycle events, and Yangtze Delta
-- cross-store returns, where partner provinces' data meets Shanghai's.

-- The number embeds the contact point's district and the year: C310115-2020-000001.
CREATE TABLE "case" (
    id                        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number                    text NOT NULL UNIQUE CHECK (number ~ '^C[1-9][0-9]{5}-[0-9]{4}-[0-9]{6,7}$'),
    -- 投诉 complaint, 咨询 consultation, 违法线索 lead on illegal conduct
    kind                      text NOT NULL CHECK (kind IN ('complaint', 'consultation', 'illegal_conduct_lead')),
    channel                   text NOT NULL CHECK (channel IN ('on_site', 'online_mediation', 'platform_12315', 'odr')),
    category                  text NOT NULL CHECK (category IN (
                                  'after_sales_service', 'product_quality', 'prepaid_consumption',
                                  'online_purchase_return', 'mall_after_sales', 'other')),
    status                    text NOT NULL CHECK (status IN (
                                  'received', 'accepted', 'mediating', 'settled', 'not_settled', 'transferred')),
    contact_point_id          bigint NOT NULL REFERENCES contact_point (id),
    respondent_enterprise_id  bigint REFERENCES enterprise (id),
    amount_claimed            numeric(12, 2) CHECK (amount_claimed >= 0),
    amount_recovered          numeric(12, 2) CHECK (amount_recovered >= 0),
    opened_at                 timestamptz NOT NULL,
    closed_at                 timestamptz,
    summary                   text NOT NULL DEFAULT '',
    -- confidential (ODR rules forbid leaking it): never returned without the right
    consumer_name             text,
    consumer_phone            text CHECK (consumer_phone ~ '^1[3-9][0-9]{9}$'),
    CHECK ((closed_at IS NOT NULL) = (status IN ('settled', 'not_settled', 'transferred'))),
    CHECK (closed_at IS NULL OR closed_at >= opened_at),
    CHECK (amount_recovered IS NULL OR amount_claimed IS NOT NULL)
);
CREATE INDEX case_contact_point_opened_idx ON "case" (contact_point_id, opened_at DESC, id DESC);
CREATE INDEX case_respondent_opened_idx ON "case" (respondent_enterprise_id, opened_at DESC, id DESC)
    WHERE respondent_enterprise_id IS NOT NULL;
CREATE INDEX case_opened_idx ON "case" (opened_at DESC, id DESC);
CREATE INDEX case_status_idx ON "case" (status, channel, opened_at);

-- Each change of a case's status, with who made it.
CREATE TABLE case_event (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id   bigint NOT NULL REFERENCES "case" (id),
    at        timestamptz NOT NULL,
    status    text NOT NULL CHECK (status IN (
                  'received', 'accepted', 'mediating', 'settled', 'not_settled', 'transferred')),
    actor     text NOT NULL,
    note      text NOT NULL DEFAULT ''
);
CREATE INDEX case_event_case_idx ON case_event (case_id, at, id);

-- 长三角异地异店退换货: bought in one store, returned or exchanged in another of the
-- same enterprise, possibly in another province.
CREATE TABLE cross_store_return (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code               text NOT NULL UNIQUE CHECK (code ~ '^YRD-[0-9]{4}-[0-9]{6,7}$'),
    enterprise_id      bigint NOT NULL REFERENCES enterprise (id),
    purchase_store_id  bigint NOT NULL,
    return_store_id    bigint NOT NULL,
    kind               text NOT NULL CHECK (kind IN ('return', 'exchange')),
    purchased_on       date NOT NULL,
    returned_on        date NOT NULL,
    amount             numeric(12, 2) NOT NULL CHECK (amount >= 0),
    -- both stores belong to the enterprise whose commitment the return relies on
    FOREIGN KEY (purchase_store_id, enterprise_id) REFERENCES store (id, enterprise_id),
    FOREIGN KEY (return_store_id, enterprise_id) REFERENCES store (id, enterprise_id),
    CHECK (purchase_store_id <> return_store_id),
    CHECK (returned_on >= purchased_on)
);
CREATE INDEX cross_store_return_enterprise_idx ON cross_store_return (enterprise_id, returned_on DESC, id DESC);
CREATE INDEX cross_store_return_purchase_idx ON cross_store_return (purchase_store_id, returned_on DESC);
CREATE INDEX cross_store_return_return_idx ON cross_store_return (return_store_id, returned_on DESC);
CREATE INDEX cross_store_return_date_idx ON cross_store_return (returned_on DESC, id DESC);
