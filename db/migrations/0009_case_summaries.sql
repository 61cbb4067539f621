-- Case statistics and cross-store return flows as summaries per district and span (a
-- Shanghai day, month or year), kept in step with every write by statement-level triggers
-- in the writer's own transaction: mutations, the demo loader, `liaison volume` and any
-- import (plain SQL included) move them, so they are never stale. A period's figures add
-- the whole years, whole months and remaining days it covers: a year's statistics read one
-- row per district, whatever the number of cases. `liaison stats check` compares the
-- summaries with the views *_from_rows (the same rows recomputed from the raw rows);
-- `liaison stats rebuild` replaces them from those views.

-- Days to close at the resolution the API reports: hundredths of a day (864 s), rounded
-- half up. Medians are taken over these, so a histogram gives them exactly.
CREATE FUNCTION case_close_hundredths(opened_at timestamptz, closed_at timestamptz) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN round(extract(epoch FROM closed_at - opened_at) / 864)::integer;

-- The spans a day counts in: itself, its month and its year (each named by its first day).
CREATE FUNCTION summary_spans(day date) RETURNS TABLE (span text, starts date)
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT * FROM (VALUES ('day', day),
                          ('month', make_date(extract(year FROM day)::integer, extract(month FROM day)::integer, 1)),
                          ('year', make_date(extract(year FROM day)::integer, 1, 1))) AS s (span, starts)
$$;

-- Cases opened in a span at a district's contact points: one column per counted value (the
-- values of the CHECK constraints on "case"). A row whose cases fall to 0 is removed.
CREATE TABLE case_summary (
    district_code                    text NOT NULL,
    span                             text NOT NULL CHECK (span IN ('day', 'month', 'year')),
    starts                           date NOT NULL,
    cases                            integer NOT NULL,
    status_received                  integer NOT NULL,
    status_accepted                  integer NOT NULL,
    status_mediating                 integer NOT NULL,
    status_settled                   integer NOT NULL,
    status_not_settled               integer NOT NULL,
    status_transferred               integer NOT NULL,
    kind_complaint                   integer NOT NULL,
    kind_consultation                integer NOT NULL,
    kind_illegal_conduct_lead        integer NOT NULL,
    channel_on_site                  integer NOT NULL,
    channel_online_mediation         integer NOT NULL,
    channel_platform_12315           integer NOT NULL,
    channel_odr                      integer NOT NULL,
    category_after_sales_service     integer NOT NULL,
    category_product_quality         integer NOT NULL,
    category_prepaid_consumption     integer NOT NULL,
    category_online_purchase_return  integer NOT NULL,
    category_mall_after_sales        integer NOT NULL,
    category_other                   integer NOT NULL,
    settled_online_mediations        integer NOT NULL,
    amount_claimed                   numeric(18, 2) NOT NULL,
    amount_recovered                 numeric(18, 2) NOT NULL,
    PRIMARY KEY (district_code, span, starts)
);

-- Closed cases per district and span by days to close: in hundredths (width 1), and in
-- whole days (width 100), which say where a median lies before its hundredths are read.
CREATE TABLE case_close_histogram (
    district_code  text NOT NULL,
    span           text NOT NULL CHECK (span IN ('day', 'month', 'year')),
    starts         date NOT NULL,
    width          integer NOT NULL CHECK (width IN (1, 100)),
    bucket         integer NOT NULL,
    cases          integer NOT NULL,
    PRIMARY KEY (district_code, span, starts, width, bucket)
);

-- Cross-store returns per span and the districts of the two stores.
CREATE TABLE return_summary (
    span                    text NOT NULL CHECK (span IN ('day', 'month', 'year')),
    starts                  date NOT NULL,
    purchase_district_code  text NOT NULL,
    return_district_code    text NOT NULL,
    returns                 integer NOT NULL,
    PRIMARY KEY (span, starts, purchase_district_code, return_district_code)
);

-- What the summaries hold, recomputed from the raw rows: the reference of `stats check`
-- and `stats rebuild`. It is written apart from the triggers' functions below (which sum
-- signed changes: -1 for a row's old version, +1 for its new one), so a fault in either
-- shows as a difference rather than being repeated by both.
CREATE VIEW case_summary_from_rows (
    district_code, span, starts, cases, status_received, status_accepted, status_mediating,
    status_settled, status_not_settled, status_transferred, kind_complaint,
    kind_consultation, kind_illegal_conduct_lead, channel_on_site, channel_online_mediation,
    channel_platform_12315, channel_odr, category_after_sales_service,
    category_product_quality, category_prepaid_consumption, category_online_purchase_return,
    category_mall_after_sales, category_other, settled_online_mediations, amount_claimed,
    amount_recovered
) AS
SELECT p.district_code, g.span, g.starts, count(*),
       count(*) FILTER (WHERE c.status = 'received'),
       count(*) FILTER (WHERE c.status = 'accepted'),
       count(*) FILTER (WHERE c.status = 'mediating'),
       count(*) FILTER (WHERE c.status = 'settled'),
       count(*) FILTER (WHERE c.status = 'not_settled'),
       count(*) FILTER (WHERE c.status = 'transferred'),
       count(*) FILTER (WHERE c.kind = 'complaint'),
       count(*) FILTER (WHERE c.kind = 'consultation'),
       count(*) FILTER (WHERE c.kind = 'illegal_conduct_lead'),
       count(*) FILTER (WHERE c.channel = 'on_site'),
       count(*) FILTER (WHERE c.channel = 'online_mediation'),
       count(*) FILTER (WHERE c.channel = 'platform_12315'),
       count(*) FILTER (WHERE c.channel = 'odr'),
       count(*) FILTER (WHERE c.category = 'after_sales_service'),
       count(*) FILTER (WHERE c.category = 'product_quality'),
       count(*) FILTER (WHERE c.category = 'prepaid_consumption'),
       count(*) FILTER (WHERE c.category = 'online_purchase_return'),
       count(*) FILTER (WHERE c.category = 'mall_after_sales'),
       count(*) FILTER (WHERE c.category = 'other'),
       count(*) FILTER (WHERE c.channel = 'online_mediation' AND c.status = 'settled'),
       coalesce(sum(c.amount_claimed), 0.00), coalesce(sum(c.amount_recovered), 0.00)
  FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id
 CROSS JOIN LATERAL summary_spans((c.opened_at AT TIME ZONE 'Asia/Shanghai')::date) g
 GROUP BY 1, 2, 3;

CREATE VIEW case_close_histogram_from_rows (district_code, span, starts, width, bucket, cases) AS
SELECT p.district_code, g.span, g.starts, w.width, case_close_hundredths(c.opened_at, c.closed_at) / w.width, count(*)
  FROM "case" c JOIN contact_point p ON p.id = c.contact_point_id
 CROSS JOIN LATERAL summary_spans((c.opened_at AT TIME ZONE 'Asia/Shanghai')::date) g CROSS JOIN (VALUES (1), (100)) w (width)
 WHERE c.closed_at IS NOT NULL
 GROUP BY 1, 2, 3, 4, 5;

CREATE VIEW return_summary_from_rows (span, starts, purchase_district_code, return_district_code, returns) AS
SELECT g.span, g.starts, b.district_code, r.district_code, count(*)
  FROM cross_store_return x JOIN store b ON b.id = x.purchase_store_id JOIN store r ON r.id = x.return_store_id
 CROSS JOIN LATERAL summary_spans(x.returned_on) g
 GROUP BY 1, 2, 3, 4;

INSERT INTO case_summary SELECT * FROM case_summary_from_rows;
INSERT INTO case_close_histogram SELECT * FROM case_close_histogram_from_rows;
INSERT INTO return_summary SELECT * FROM return_summary_from_rows;

-- Add the cases ``added`` and take away ``removed``. Cells whose figures do not change are
-- not touched; cells left at 0 are removed. Rows are upserted in key order, so two
-- writers touching the same cells wait for each other rather than deadlock. Generic plans:
-- the same plan serves one row and a COPY chunk, without planning each statement anew.
CREATE FUNCTION case_summaries_apply(removed "case"[], added "case"[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    districts text[];
    spans text[];
    starting date[];
    widths integer[];
    buckets integer[];
BEGIN
    WITH signed AS (
        SELECT -1 AS sign, * FROM unnest(removed) UNION ALL SELECT 1, * FROM unnest(added)
    ), cells (
    district_code, span, starts, cases, status_received, status_accepted, status_mediating,
    status_settled, status_not_settled, status_transferred, kind_complaint,
    kind_consultation, kind_illegal_conduct_lead, channel_on_site, channel_online_mediation,
    channel_platform_12315, channel_odr, category_after_sales_service,
    category_product_quality, category_prepaid_consumption, category_online_purchase_return,
    category_mall_after_sales, category_other, settled_online_mediations, amount_claimed,
    amount_recovered
    ) AS (
        SELECT p.district_code, g.span, g.starts, sum(c.sign)::integer,
               sum(c.sign * (c.status = 'received')::integer),
               sum(c.sign * (c.status = 'accepted')::integer),
               sum(c.sign * (c.status = 'mediating')::integer),
               sum(c.sign * (c.status = 'settled')::integer),
               sum(c.sign * (c.status = 'not_settled')::integer),
               sum(c.sign * (c.status = 'transferred')::integer),
               sum(c.sign * (c.kind = 'complaint')::integer),
               sum(c.sign * (c.kind = 'consultation')::integer),
               sum(c.sign * (c.kind = 'illegal_conduct_lead')::integer),
               sum(c.sign * (c.channel = 'on_site')::integer),
               sum(c.sign * (c.channel = 'online_mediation')::integer),
               sum(c.sign * (c.channel = 'platform_12315')::integer),
               sum(c.sign * (c.channel = 'odr')::integer),
               sum(c.sign * (c.category = 'after_sales_service')::integer),
               sum(c.sign * (c.category = 'product_quality')::integer),
               sum(c.sign * (c.category = 'prepaid_consumption')::integer),
               sum(c.sign * (c.category = 'online_purchase_return')::integer),
               sum(c.sign * (c.category = 'mall_after_sales')::integer),
               sum(c.sign * (c.category = 'other')::integer),
               sum(c.sign * (c.channel = 'online_mediation' AND c.status = 'settled')::integer),
               sum(c.sign * coalesce(c.amount_claimed, 0.00)), sum(c.sign * coalesce(c.amount_recovered, 0.00))
          FROM signed c JOIN contact_point p ON p.id = c.contact_point_id
         CROSS JOIN LATERAL summary_spans((c.opened_at AT TIME ZONE 'Asia/Shanghai')::date) g
         GROUP BY 1, 2, 3
    ), moved AS (
        INSERT INTO case_summary AS s
        SELECT * FROM cells c
         WHERE (c.cases, c.status_received, c.status_accepted, c.status_mediating, c.status_settled, c.status_not_settled, c.status_transferred, c.kind_complaint, c.kind_consultation, c.kind_illegal_conduct_lead, c.channel_on_site, c.channel_online_mediation, c.channel_platform_12315, c.channel_odr, c.category_after_sales_service, c.category_product_quality, c.category_prepaid_consumption, c.category_online_purchase_return, c.category_mall_after_sales, c.category_other, c.settled_online_mediations, c.amount_claimed, c.amount_recovered)
               IS DISTINCT FROM (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.00, 0.00)
         ORDER BY 1, 2, 3
        ON CONFLICT (district_code, span, starts) DO UPDATE SET
            cases = s.cases + excluded.cases,
            status_received = s.status_received + excluded.status_received,
            status_accepted = s.status_accepted + excluded.status_accepted,
            status_mediating = s.status_mediating + excluded.status_mediating,
            status_settled = s.status_settled + excluded.status_settled,
            status_not_settled = s.status_not_settled + excluded.status_not_settled,
            status_transferred = s.status_transferred + excluded.status_transferred,
            kind_complaint = s.kind_complaint + excluded.kind_complaint,
            kind_consultation = s.kind_consultation + excluded.kind_consultation,
            kind_illegal_conduct_lead = s.kind_illegal_conduct_lead + excluded.kind_illegal_conduct_lead,
            channel_on_site = s.channel_on_site + excluded.channel_on_site,
            channel_online_mediation = s.channel_online_mediation + excluded.channel_online_mediation,
            channel_platform_12315 = s.channel_platform_12315 + excluded.channel_platform_12315,
            channel_odr = s.channel_odr + excluded.channel_odr,
            category_after_sales_service = s.category_after_sales_service + excluded.category_after_sales_service,
            category_product_quality = s.category_product_quality + excluded.category_product_quality,
            category_prepaid_consumption = s.category_prepaid_consumption + excluded.category_prepaid_consumption,
            category_online_purchase_return = s.category_online_purchase_return + excluded.category_online_purchase_return,
            category_mall_after_sales = s.category_mall_after_sales + excluded.category_mall_after_sales,
            category_other = s.category_other + excluded.category_other,
            settled_online_mediations = s.settled_online_mediations + excluded.settled_online_mediations,
            amount_claimed = s.amount_claimed + excluded.amount_claimed,
            amount_recovered = s.amount_recovered + excluded.amount_recovered
        RETURNING s.district_code, s.span, s.starts, s.cases
    )
    SELECT array_agg(district_code), array_agg(span), array_agg(starts) INTO districts, spans, starting
      FROM moved WHERE cases = 0;
    IF districts IS NOT NULL THEN
        DELETE FROM case_summary s USING unnest(districts, spans, starting) AS e (district_code, span, starts)
         WHERE (s.district_code, s.span, s.starts) = (e.district_code, e.span, e.starts) AND s.cases = 0;
    END IF;

    WITH signed AS (
        SELECT -1 AS sign, * FROM unnest(removed) UNION ALL SELECT 1, * FROM unnest(added)
    ), cells (district_code, span, starts, width, bucket, cases) AS (
        SELECT p.district_code, g.span, g.starts, w.width, case_close_hundredths(c.opened_at, c.closed_at) / w.width,
               sum(c.sign)::integer
          FROM signed c JOIN contact_point p ON p.id = c.contact_point_id
         CROSS JOIN LATERAL summary_spans((c.opened_at AT TIME ZONE 'Asia/Shanghai')::date) g CROSS JOIN (VALUES (1), (100)) w (width)
         WHERE c.closed_at IS NOT NULL
         GROUP BY 1, 2, 3, 4, 5
    ), moved AS (
        INSERT INTO case_close_histogram AS s
        SELECT * FROM cells WHERE cases <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (district_code, span, starts, width, bucket) DO UPDATE SET cases = s.cases + excluded.cases
        RETURNING s.district_code, s.span, s.starts, s.width, s.bucket, s.cases
    )
    SELECT array_agg(district_code), array_agg(span), array_agg(starts), array_agg(width), array_agg(bucket)
      INTO districts, spans, starting, widths, buckets FROM moved WHERE cases = 0;
    IF districts IS NOT NULL THEN
        DELETE FROM case_close_histogram s
         USING unnest(districts, spans, starting, widths, buckets) AS e (district_code, span, starts, width, bucket)
         WHERE (s.district_code, s.span, s.starts, s.width, s.bucket) = (e.district_code, e.span, e.starts, e.width, e.bucket)
           AND s.cases = 0;
    END IF;
END $$;

CREATE FUNCTION return_summaries_apply(removed cross_store_return[], added cross_store_return[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    spans text[];
    starting date[];
    purchases text[];
    returned text[];
BEGIN
    WITH signed AS (
        SELECT -1 AS sign, * FROM unnest(removed) UNION ALL SELECT 1, * FROM unnest(added)
    ), cells (span, starts, purchase_district_code, return_district_code, returns) AS (
        SELECT g.span, g.starts, b.district_code, r.district_code, sum(x.sign)::integer
          FROM signed x JOIN store b ON b.id = x.purchase_store_id JOIN store r ON r.id = x.return_store_id
         CROSS JOIN LATERAL summary_spans(x.returned_on) g
         GROUP BY 1, 2, 3, 4
    ), moved AS (
        INSERT INTO return_summary AS s
        SELECT * FROM cells WHERE returns <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (span, starts, purchase_district_code, return_district_code) DO UPDATE SET returns = s.returns + excluded.returns
        RETURNING s.span, s.starts, s.purchase_district_code, s.return_district_code, s.returns
    )
    SELECT array_agg(span), array_agg(starts), array_agg(purchase_district_code), array_agg(return_district_code)
      INTO spans, starting, purchases, returned FROM moved WHERE returns = 0;
    IF spans IS NOT NULL THEN
        DELETE FROM return_summary s USING unnest(spans, starting, purchases, returned) AS e (span, starts, bought, back)
         WHERE (s.span, s.starts, s.purchase_district_code, s.return_district_code) = (e.span, e.starts, e.bought, e.back)
           AND s.returns = 0;
    END IF;
END $$;

-- One function per table for its three statement triggers (PostgreSQL allows transition
-- tables only on a trigger of a single event); each passes the rows it saw.
CREATE FUNCTION case_summaries_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM case_summaries_apply('{}', ARRAY(SELECT ROW(n.*)::"case" FROM new_rows n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM case_summaries_apply(ARRAY(SELECT ROW(o.*)::"case" FROM old_rows o), '{}');
    ELSE
        PERFORM case_summaries_apply(ARRAY(SELECT ROW(o.*)::"case" FROM old_rows o), ARRAY(SELECT ROW(n.*)::"case" FROM new_rows n));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION return_summaries_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM return_summaries_apply('{}', ARRAY(SELECT ROW(n.*)::cross_store_return FROM new_rows n));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM return_summaries_apply(ARRAY(SELECT ROW(o.*)::cross_store_return FROM old_rows o), '{}');
    ELSE
        PERFORM return_summaries_apply(ARRAY(SELECT ROW(o.*)::cross_store_return FROM old_rows o), ARRAY(SELECT ROW(n.*)::cross_store_return FROM new_rows n));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_summaries_insert AFTER INSERT ON "case"
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_track();
CREATE TRIGGER case_summaries_update AFTER UPDATE ON "case"
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_track();
CREATE TRIGGER case_summaries_delete AFTER DELETE ON "case"
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_track();

CREATE TRIGGER return_summaries_insert AFTER INSERT ON cross_store_return
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summaries_track();
CREATE TRIGGER return_summaries_update AFTER UPDATE ON cross_store_return
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summaries_track();
CREATE TRIGGER return_summaries_delete AFTER DELETE ON cross_store_return
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summaries_track();

-- TRUNCATE has no rows to pass: it empties the summaries with the table.
CREATE FUNCTION case_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE case_summary, case_close_histogram;
    RETURN NULL;
END $$;
CREATE FUNCTION return_summaries_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE return_summary;
    RETURN NULL;
END $$;
CREATE TRIGGER case_summaries_truncate AFTER TRUNCATE ON "case"
    FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_truncate();
CREATE TRIGGER return_summaries_truncate AFTER TRUNCATE ON cross_store_return
    FOR EACH STATEMENT EXECUTE FUNCTION return_summaries_truncate();

-- A contact point or store that moves to another district moves its rows' figures: the
-- summaries of the districts it left and joined are recomputed from the raw rows (a rare,
-- administrative write).
CREATE FUNCTION case_summaries_refresh(districts text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM case_summary WHERE district_code = ANY(districts);
    INSERT INTO case_summary SELECT * FROM case_summary_from_rows WHERE district_code = ANY(districts);
    DELETE FROM case_close_histogram WHERE district_code = ANY(districts);
    INSERT INTO case_close_histogram SELECT * FROM case_close_histogram_from_rows WHERE district_code = ANY(districts);
END $$;

CREATE FUNCTION return_summaries_refresh(districts text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM return_summary
     WHERE purchase_district_code = ANY(districts) OR return_district_code = ANY(districts);
    INSERT INTO return_summary SELECT * FROM return_summary_from_rows
     WHERE purchase_district_code = ANY(districts) OR return_district_code = ANY(districts);
END $$;

CREATE FUNCTION summaries_follow_district() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    moved text[] := ARRAY(
        SELECT DISTINCT unnest(ARRAY[o.district_code, n.district_code])
          FROM old_rows o JOIN new_rows n USING (id) WHERE o.district_code <> n.district_code);
BEGIN
    IF moved <> '{}' THEN
        IF TG_TABLE_NAME = 'contact_point' THEN
            PERFORM case_summaries_refresh(moved);
        ELSE
            PERFORM return_summaries_refresh(moved);
        END IF;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER case_summaries_follow_district AFTER UPDATE ON contact_point
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION summaries_follow_district();
CREATE TRIGGER return_summaries_follow_district AFTER UPDATE ON store
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION summaries_follow_district();
