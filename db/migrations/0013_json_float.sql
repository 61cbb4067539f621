-- A float8 as JSON, written as the service's JSON encoder (orjson) writes a Python float, so
-- a figure computed in SQL by the compiled path is byte for byte the one the generic path
-- serialises. Both print the shortest digits that round-trip (Ryu); only the layout
-- differs: orjson writes plain decimals for exponents -5 to 15, with ".0" when integral
-- (PostgreSQL: -4 to 14, no ".0"), and "e-7", "e+16" otherwise (PostgreSQL: "e-07").
-- The shortest digits are PostgreSQL's output whenever extra_float_digits > 0, fixed here.
-- Above 1e16 (integers only, far beyond any rate or median) the two can pick different
-- digits that both round-trip: PostgreSQL prints some of them with 17.
CREATE FUNCTION json_float(x float8) RETURNS json LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET extra_float_digits = 1
RETURN (
    SELECT CASE
        WHEN x <> x OR x IN ('infinity', '-infinity') THEN 'null'
        WHEN position('e' IN s) = 0 THEN s || CASE WHEN position('.' IN s) = 0 THEN '.0' ELSE '' END
        WHEN e < -5 OR e > 15 THEN m || 'e' || CASE WHEN e < 0 THEN '-' ELSE '+' END || abs(e)
        WHEN e < 0 THEN sign || '0.' || repeat('0', -e - 1) || digits
        WHEN length(digits) > e + 1 THEN sign || left(digits, e + 1) || '.' || substr(digits, e + 2)
        ELSE sign || rpad(digits, e + 1, '0') || '.0'
    END::json
      FROM (SELECT s, split_part(s, 'e', 1) AS m, nullif(split_part(s, 'e', 2), '')::integer AS e,
                   CASE WHEN s LIKE '-%' THEN '-' ELSE '' END AS sign,
                   replace(ltrim(split_part(s, 'e', 1), '-'), '.', '') AS digits
              FROM (SELECT x::text AS s) t) p
);
