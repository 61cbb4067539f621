-- The median days to close of a scope's cases, from the summaries' histograms: what the
-- statistics read per scope key, on every path, in place of window passes over the buckets
-- (at a million cases, about 0.27 ms of backend CPU per district and year before, 0.10 ms
-- with this function and the index below).
--
-- The arguments name the summary rows the period covers for the scope, one per element:
-- (district_code, span, starts), as the statistics' own pass over case_summary finds them
-- (a closed case counts in both tables, so no histogram row lies outside those). The whole
-- days (width 100) say which days hold the two middle positions (one when the count is
-- odd); only those days' hundredths (width 1) are read, in bucket order through the index.
-- The result is the median of the hundredths, in days, rounded to 2 places half away from
-- zero, as percentile_cont over the raw rows gives it; null without a closed case, and
-- null when the histogram's widths disagree (`liaison stats check` reports that).
CREATE FUNCTION case_close_median(districts text[], spans text[], starts date[]) RETURNS float8
    LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    days integer[];
    counts bigint[];
    closed bigint;
    low bigint;   -- the two middle positions, then each its place within its day
    high bigint;
    low_day integer;
    high_day integer;
    low_bucket integer;
    high_bucket integer;
    seen bigint := 0;
    hundredths CURSOR (day integer) FOR
        SELECT h.bucket, sum(h.cases)::bigint AS cases
          FROM unnest(districts, spans, starts) AS r (district_code, span, starts)
          JOIN case_close_histogram h
            ON (h.district_code, h.span, h.starts, h.width) = (r.district_code, r.span, r.starts, 1)
         WHERE h.bucket >= day * 100 AND h.bucket < day * 100 + 100
         GROUP BY h.bucket ORDER BY h.bucket;
BEGIN
    SELECT array_agg(d.bucket ORDER BY d.bucket), array_agg(d.cases ORDER BY d.bucket), sum(d.cases)
      INTO days, counts, closed
      FROM (SELECT h.bucket, sum(h.cases)::bigint AS cases
              FROM unnest(districts, spans, starts) AS r (district_code, span, starts)
              JOIN case_close_histogram h
                ON (h.district_code, h.span, h.starts, h.width) = (r.district_code, r.span, r.starts, 100)
             GROUP BY h.bucket) d;
    IF closed IS NULL THEN
        RETURN NULL;
    END IF;
    low := (closed + 1) / 2;
    high := closed / 2 + 1;
    FOR i IN 1 .. array_length(days, 1) LOOP
        IF low_day IS NULL AND seen + counts[i] >= low THEN
            low_day := days[i];
            low := low - seen;
        END IF;
        IF seen + counts[i] >= high THEN
            high_day := days[i];
            high := high - seen;
            EXIT;
        END IF;
        seen := seen + counts[i];
    END LOOP;
    seen := 0;
    FOR h IN hundredths(low_day) LOOP  -- both positions, when one day holds them (almost always)
        seen := seen + h.cases;
        IF low_bucket IS NULL AND seen >= low THEN
            low_bucket := h.bucket;
        END IF;
        IF high_day = low_day AND seen >= high THEN
            high_bucket := h.bucket;
        END IF;
        EXIT WHEN low_bucket IS NOT NULL AND (high_day <> low_day OR high_bucket IS NOT NULL);
    END LOOP;
    IF high_day <> low_day THEN
        seen := 0;
        FOR h IN hundredths(high_day) LOOP
            seen := seen + h.cases;
            IF seen >= high THEN
                high_bucket := h.bucket;
                EXIT;
            END IF;
        END LOOP;
    END IF;
    RETURN round((low_bucket + high_bucket)::numeric / 200, 2)::float8;
END
$$;

-- The histogram's buckets read from the index alone (an index-only scan, with no visit to
-- the heap pages, which the buckets of one day and span are scattered over): the primary
-- key's index now carries the count. Inserting closed cases (each moves six buckets) measured
-- no slower with it than without (bench/RESULTS.md, 2026-12-04).
ALTER TABLE case_close_histogram
    DROP CONSTRAINT case_close_histogram_pkey,
    ADD PRIMARY KEY (district_code, span, starts, width, bucket) INCLUDE (cases);
