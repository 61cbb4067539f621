-- json_float (migration 0013) in two steps: a float PostgreSQL prints without an exponent
-- (exponents -4 to 14: every rate and median) is written at once, with ".0" when integral;
-- only the others go through the general formatter, renamed json_float_exponent. Same
-- output to the byte; the plain case costs about 2.7 µs of backend CPU instead of 12, and
-- a compiled dashboard of 16 districts writes 32 of them (bench/RESULTS.md, 2026-12-04).
ALTER FUNCTION json_float(float8) RENAME TO json_float_exponent;

CREATE FUNCTION json_float(x float8) RETURNS json LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET extra_float_digits = 1
RETURN CASE
    WHEN x <> x OR x IN ('infinity', '-infinity') THEN 'null'::json
    WHEN position('e' IN x::text) = 0 THEN (x::text || CASE WHEN position('.' IN x::text) = 0 THEN '.0' ELSE '' END)::json
    ELSE json_float_exponent(x)
END;
