SELECT (SELECT coalesce(string_agg(v.source || ' ' || v.year || ' ' || v.district_code || ' ' || v.version, ',' ORDER BY v.source COLLATE "C", v.year, v.district_code COLLATE "C"), '') FROM data_version v WHERE v.source = ANY($5::text[])), (SELECT row_to_json(_) FROM (SELECT (SELECT coalesce(array_to_json(array_agg(row_to_json(obj1) ORDER BY t.code)), '[]') FROM (SELECT * FROM "region" t WHERE true) t CROSS JOIN LATERAL (SELECT t."code" AS "code", t."name" AS "name", (SELECT coalesce(array_to_json(array_agg(row_to_json(obj3) ORDER BY t.code)), '[]') FROM (SELECT t.code AS key) k2 CROSS JOIN LATERAL (SELECT * FROM "district" t WHERE t.region_code = k2.key AND true) t CROSS JOIN LATERAL (SELECT t."code" AS "code", t."name" AS "name", (CASE WHEN t."kind" IS NULL THEN NULL WHEN t."kind" = $1::text THEN $2::text WHEN t."kind" = $3::text THEN $4::text ELSE ((t."kind")::text || ' is no value of the enum')::int::text END) AS "kind") obj3) AS "districts") obj1) AS "regions") _)::text
-- $1: "district"
-- $2: "DISTRICT"
-- $3: "city"
-- $4: "CITY"
-- $5: ["district","region"]
