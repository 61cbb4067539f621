-- Versions from one sequence, so that no version is ever given twice (migration 0022 counted
-- each cell from 1). Emptying data_version, or restoring a dump, while the service runs made
-- a cell count from 1 again, and once it reached a kept answer's version that answer was
-- served with other data behind it. A sequence never goes back; a kept answer names versions
-- no later write can give again.
CREATE SEQUENCE data_version_seq;
SELECT setval('data_version_seq', greatest((SELECT max(version) FROM data_version), 1));

CREATE OR REPLACE FUNCTION data_version_bump(bumped text, years integer[], districts text[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    INSERT INTO data_version AS v
    SELECT c.source, c.year, c.district_code, nextval('data_version_seq')
      FROM (SELECT DISTINCT bumped AS source, u.year, u.district_code
              FROM unnest(years, districts) AS u (year, district_code)) c
     ORDER BY 2, 3
    ON CONFLICT (source, year, district_code) DO UPDATE SET version = excluded.version;
END $$;

-- A TRUNCATE of a summary bumps every cell of its source.
CREATE OR REPLACE FUNCTION case_summaries_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version SET version = nextval('data_version_seq') WHERE source = 'case';
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

CREATE OR REPLACE FUNCTION return_summary_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE data_version SET version = nextval('data_version_seq') WHERE source = 'return';
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
