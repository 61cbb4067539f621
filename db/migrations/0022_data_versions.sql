-- Versions of what compiled statistics read, so the service can keep a statement's answer
-- and serve it again while nothing it read has changed (db/answers.py). A version counts
-- the committed changes of one cell: the summary rows of a district whose day lies in a
-- year ('case': case_summary and case_close_histogram; 'return': return_summary, by the
-- purchase district), or a whole reference table (its name, year 0, district '').
--
-- Every change of a summary row bumps its cell in the writer's own transaction, by
-- statement triggers on the summaries themselves, so every writer bumps: the case
-- triggers of migration 0009 (mutations, the demo loader, `liaison volume`, imports, plain
-- SQL), `liaison stats rebuild`, the refresh after a contact point moves, and manual edits
-- of summary rows. A reader reads the versions in the same statement (the same snapshot)
-- as the figures. The grain keeps a past year's statistics valid while today's cases
-- stream in, and the row a bump locks (until commit) is the one whose summary row
-- (district, 'year', starts) the writer has already locked: writers of different districts
-- do not wait for each other here, and writers of one district waited for each other already.
-- Cells are bumped in key order, as the summaries are upserted, so two writers do not deadlock.
CREATE TABLE data_version (
    source         text NOT NULL,
    year           integer NOT NULL,
    district_code  text NOT NULL,
    version        bigint NOT NULL,
    PRIMARY KEY (source, year, district_code)
);

-- Every cell that has summary rows has a version: a TRUNCATE bumps the cells it finds.
INSERT INTO data_version
SELECT DISTINCT 'case', extract(year FROM starts)::integer, district_code, 1 FROM case_summary
UNION SELECT DISTINCT 'case', extract(year FROM starts)::integer, district_code, 1 FROM case_close_histogram
UNION SELECT DISTINCT 'return', extract(year FROM starts)::integer, purchase_district_code, 1 FROM return_summary;

CREATE FUNCTION data_version_bump(bumped text, years integer[], districts text[]) RETURNS void
LANGUAGE sql SET plan_cache_mode = force_generic_plan AS $$
    INSERT INTO data_version AS v
    SELECT DISTINCT bumped, c.year, c.district_code, 1 FROM unnest(years, districts) AS c (year, district_code)
     ORDER BY 2, 3
    ON CONFLICT (source, year, district_code) DO UPDATE SET version = v.version + 1
$$;

-- Statement triggers on case_summary and case_close_histogram (the same columns of key).
CREATE FUNCTION case_summaries_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version SET version = version + 1 WHERE source = 'case';
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM data_version_bump('case', array_agg(extract(year FROM n.starts)::integer), array_agg(n.district_code))
           FROM new_rows n HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM data_version_bump('case', array_agg(extract(year FROM o.starts)::integer), array_agg(o.district_code))
           FROM old_rows o HAVING count(*) > 0;
    ELSE  -- an update may move a row's key (by hand): both cells change
        PERFORM data_version_bump('case', array_agg(extract(year FROM r.starts)::integer), array_agg(r.district_code))
           FROM (SELECT starts, district_code FROM old_rows UNION ALL SELECT starts, district_code FROM new_rows) r
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION return_summary_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version SET version = version + 1 WHERE source = 'return';
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM data_version_bump('return', array_agg(extract(year FROM n.starts)::integer), array_agg(n.purchase_district_code))
           FROM new_rows n HAVING count(*) > 0;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM data_version_bump('return', array_agg(extract(year FROM o.starts)::integer), array_agg(o.purchase_district_code))
           FROM old_rows o HAVING count(*) > 0;
    ELSE
        PERFORM data_version_bump('return', array_agg(extract(year FROM r.starts)::integer), array_agg(r.purchase_district_code))
           FROM (SELECT starts, purchase_district_code FROM old_rows
                 UNION ALL SELECT starts, purchase_district_code FROM new_rows) r
         HAVING count(*) > 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_summary_version_insert AFTER INSERT ON case_summary
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_summary_version_update AFTER UPDATE ON case_summary
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_summary_version_delete AFTER DELETE ON case_summary
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_summary_version_truncate AFTER TRUNCATE ON case_summary
    FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();

CREATE TRIGGER case_close_histogram_version_insert AFTER INSERT ON case_close_histogram
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_close_histogram_version_update AFTER UPDATE ON case_close_histogram
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_close_histogram_version_delete AFTER DELETE ON case_close_histogram
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();
CREATE TRIGGER case_close_histogram_version_truncate AFTER TRUNCATE ON case_close_histogram
    FOR EACH STATEMENT EXECUTE FUNCTION case_summaries_version();

CREATE TRIGGER return_summary_version_insert AFTER INSERT ON return_summary
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summary_version();
CREATE TRIGGER return_summary_version_update AFTER UPDATE ON return_summary
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summary_version();
CREATE TRIGGER return_summary_version_delete AFTER DELETE ON return_summary
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION return_summary_version();
CREATE TRIGGER return_summary_version_truncate AFTER TRUNCATE ON return_summary
    FOR EACH STATEMENT EXECUTE FUNCTION return_summary_version();

-- The reference tables statistics name their scopes by: any write to one bumps its version.
CREATE FUNCTION reference_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM data_version_bump(TG_TABLE_NAME, ARRAY[0], ARRAY['']);
    RETURN NULL;
END $$;
CREATE TRIGGER region_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON region
    FOR EACH STATEMENT EXECUTE FUNCTION reference_version();
CREATE TRIGGER district_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON district
    FOR EACH STATEMENT EXECUTE FUNCTION reference_version();
