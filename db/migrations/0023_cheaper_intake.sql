-- Cheaper intake with the summaries kept (issue 16: within 20 % of intake without them).
-- Measured before this migration (bench/RESULTS.md, 2026-12-05), one open case inserted at a
-- time: the summary functions' statements and the version triggers each cost about as much
-- as the insert itself. An upsert into a summary fires its table's INSERT and UPDATE
-- statement triggers (migration 0022), each a PL/pgSQL call, and the histogram's upsert ran
-- (and fired its two triggers) for an open case that has no bucket to move.
--
-- Now the summaries' own functions bump the versions of the cells they moved once, at the
-- end (from the rows their upserts returned: a cell whose figures did not change is not
-- bumped, as before), and say so for the duration in a transaction-local setting,
-- liaison.summaries_bumped; the version triggers on the summary tables skip a statement
-- made while it is on (their WHEN is tested as the statement ends, before any call) and
-- still bump for every other writer: `stats rebuild`, the refresh after a contact point
-- moves, manual edits, TRUNCATE. The histogram's statement runs only when a row added or
-- removed is closed. Lock order is unchanged: summary rows in key order, then the
-- versions in key order. And the bump itself is planned once per session (below).

-- The bump in PL/pgSQL: its upsert's plan is then kept for the session, where the SQL
-- function of migration 0022 (not inlined: it has a SET clause) was planned again in every
-- transaction that called it, about 0.1 ms per intake on PostgreSQL 15 (pg_stat_user_functions).
CREATE OR REPLACE FUNCTION data_version_bump(bumped text, years integer[], districts text[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    INSERT INTO data_version AS v
    SELECT DISTINCT bumped, c.year, c.district_code, 1 FROM unnest(years, districts) AS c (year, district_code)
     ORDER BY 2, 3
    ON CONFLICT (source, year, district_code) DO UPDATE SET version = v.version + 1;
END $$;

CREATE OR REPLACE FUNCTION case_summaries_apply(removed "case"[], added "case"[]) RETURNS void LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    districts text[];
    spans text[];
    starting date[];
    widths integer[];
    buckets integer[];
    years integer[];     -- the cells (district and year) whose rows moved: their versions
    touched text[];
    more_years integer[];
    more_touched text[];
    closing boolean;     -- whether any row is closed: else the histogram has nothing to move
BEGIN
    PERFORM set_config('liaison.summaries_bumped', 'on', true);
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
    SELECT array_agg(district_code) FILTER (WHERE cases = 0), array_agg(span) FILTER (WHERE cases = 0),
           array_agg(starts) FILTER (WHERE cases = 0), array_agg(extract(year FROM starts)::integer),
           array_agg(district_code), (SELECT bool_or(c.closed_at IS NOT NULL) FROM signed c)
      INTO districts, spans, starting, years, touched, closing
      FROM moved;
    IF districts IS NOT NULL THEN
        DELETE FROM case_summary s USING unnest(districts, spans, starting) AS e (district_code, span, starts)
         WHERE (s.district_code, s.span, s.starts) = (e.district_code, e.span, e.starts) AND s.cases = 0;
    END IF;

    IF closing THEN
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
        SELECT array_agg(district_code) FILTER (WHERE cases = 0), array_agg(span) FILTER (WHERE cases = 0),
               array_agg(starts) FILTER (WHERE cases = 0), array_agg(width) FILTER (WHERE cases = 0),
               array_agg(bucket) FILTER (WHERE cases = 0), array_agg(extract(year FROM starts)::integer),
               array_agg(district_code)
          INTO districts, spans, starting, widths, buckets, more_years, more_touched FROM moved;
        IF districts IS NOT NULL THEN
            DELETE FROM case_close_histogram s
             USING unnest(districts, spans, starting, widths, buckets) AS e (district_code, span, starts, width, bucket)
             WHERE (s.district_code, s.span, s.starts, s.width, s.bucket) = (e.district_code, e.span, e.starts, e.width, e.bucket)
               AND s.cases = 0;
        END IF;
        years := years || more_years;
        touched := touched || more_touched;
    END IF;

    IF touched IS NOT NULL THEN
        PERFORM data_version_bump('case', years, touched);
    END IF;
    PERFORM set_config('liaison.summaries_bumped', '', true);
END $$;

CREATE OR REPLACE FUNCTION return_summaries_apply(removed cross_store_return[], added cross_store_return[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    spans text[];
    starting date[];
    purchases text[];
    returned text[];
    years integer[];
    touched text[];
BEGIN
    PERFORM set_config('liaison.summaries_bumped', 'on', true);
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
    SELECT array_agg(span) FILTER (WHERE returns = 0), array_agg(starts) FILTER (WHERE returns = 0),
           array_agg(purchase_district_code) FILTER (WHERE returns = 0),
           array_agg(return_district_code) FILTER (WHERE returns = 0),
           array_agg(extract(year FROM starts)::integer), array_agg(purchase_district_code)
      INTO spans, starting, purchases, returned, years, touched FROM moved;
    IF spans IS NOT NULL THEN
        DELETE FROM return_summary s USING unnest(spans, starting, purchases, returned) AS e (span, starts, bought, back)
         WHERE (s.span, s.starts, s.purchase_district_code, s.return_district_code) = (e.span, e.starts, e.bought, e.back)
           AND s.returns = 0;
    END IF;
    IF touched IS NOT NULL THEN
        PERFORM data_version_bump('return', years, touched);
    END IF;
    PERFORM set_config('liaison.summaries_bumped', '', true);
END $$;

-- The summary tables' version triggers, for every writer but the functions above.
CREATE OR REPLACE TRIGGER case_summary_version_insert AFTER INSERT ON case_summary
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER case_summary_version_update AFTER UPDATE ON case_summary
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER case_summary_version_delete AFTER DELETE ON case_summary
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER case_close_histogram_version_insert AFTER INSERT ON case_close_histogram
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER case_close_histogram_version_update AFTER UPDATE ON case_close_histogram
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER case_close_histogram_version_delete AFTER DELETE ON case_close_histogram
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION case_summaries_version();
CREATE OR REPLACE TRIGGER return_summary_version_insert AFTER INSERT ON return_summary
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION return_summary_version();
CREATE OR REPLACE TRIGGER return_summary_version_update AFTER UPDATE ON return_summary
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION return_summary_version();
CREATE OR REPLACE TRIGGER return_summary_version_delete AFTER DELETE ON return_summary
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT
    WHEN (current_setting('liaison.summaries_bumped', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION return_summary_version();
