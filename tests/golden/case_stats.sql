SELECT (SELECT coalesce(string_agg(v.source || ' ' || v.year || ' ' || v.district_code || ' ' || v.version, ',' ORDER BY v.source COLLATE "C", v.year, v.district_code COLLATE "C"), '') FROM data_version v WHERE v.source = ANY($21::text[]) OR (v.source = $24::text AND v.year BETWEEN $22::int AND $23::int)), (SELECT row_to_json(_) FROM (SELECT (SELECT row_to_json(obj1) FROM (SELECT * FROM "region" t WHERE t.code = $1::text AND true LIMIT 1) t CROSS JOIN LATERAL (SELECT (SELECT coalesce(array_to_json(array_agg(row_to_json(obj3) ORDER BY t.code)), '[]') FROM (SELECT t.code AS key) k2 CROSS JOIN LATERAL (SELECT * FROM "district" t WHERE t.region_code = k2.key AND true) t CROSS JOIN LATERAL (SELECT t."code" AS "code", (SELECT row_to_json(_) FROM (SELECT (SELECT (SELECT row_to_json(_) FROM (SELECT t."total" AS "total", t."settled_online_mediations" AS "settledOnlineMediations", json_float(t."settlement_rate") AS "settlementRate", json_float(t."median_days_to_close") AS "medianDaysToClose", (t."amount_claimed")::text AS "amountClaimed", (SELECT coalesce(array_to_json(array_agg(row_to_json(obj5) ORDER BY t.o)), '[]') FROM (SELECT v.key, v.count, v.o FROM (VALUES ('accepted', t.status_accepted, 0), ('mediating', t.status_mediating, 1), ('not_settled', t.status_not_settled, 2), ('received', t.status_received, 3), ('settled', t.status_settled, 4), ('transferred', t.status_transferred, 5)) v (key, count, o) WHERE v.count > 0) t CROSS JOIN LATERAL (SELECT (CASE WHEN t."key" IS NULL THEN NULL WHEN t."key" = $3::text THEN $4::text WHEN t."key" = $5::text THEN $6::text WHEN t."key" = $7::text THEN $8::text WHEN t."key" = $9::text THEN $10::text WHEN t."key" = $11::text THEN $12::text WHEN t."key" = $13::text THEN $14::text ELSE ((t."key")::text || ' is no value of the enum')::int::text END) AS "status", t."count" AS "count") obj5) AS "byStatus", (SELECT coalesce(array_to_json(array_agg(row_to_json(obj6) ORDER BY t.o)), '[]') FROM (SELECT v.key, v.count, v.o FROM (VALUES ('complaint', t.kind_complaint, 0), ('consultation', t.kind_consultation, 1), ('illegal_conduct_lead', t.kind_illegal_conduct_lead, 2)) v (key, count, o) WHERE v.count > 0) t CROSS JOIN LATERAL (SELECT (CASE WHEN t."key" IS NULL THEN NULL WHEN t."key" = $15::text THEN $16::text WHEN t."key" = $17::text THEN $18::text WHEN t."key" = $19::text THEN $20::text ELSE ((t."key")::text || ' is no value of the enum')::int::text END) AS "kind", t."count" AS "count") obj6) AS "byKind") _) FROM (SELECT coalesce(f.total, 0)::bigint AS total, coalesce(f.settled_online_mediations, 0)::bigint AS settled_online_mediations, coalesce(f.status_received, 0)::bigint AS status_received, coalesce(f.status_accepted, 0)::bigint AS status_accepted, coalesce(f.status_mediating, 0)::bigint AS status_mediating, coalesce(f.status_settled, 0)::bigint AS status_settled, coalesce(f.status_not_settled, 0)::bigint AS status_not_settled, coalesce(f.status_transferred, 0)::bigint AS status_transferred, coalesce(f.kind_complaint, 0)::bigint AS kind_complaint, coalesce(f.kind_consultation, 0)::bigint AS kind_consultation, coalesce(f.kind_illegal_conduct_lead, 0)::bigint AS kind_illegal_conduct_lead, coalesce(f.channel_on_site, 0)::bigint AS channel_on_site, coalesce(f.channel_online_mediation, 0)::bigint AS channel_online_mediation, coalesce(f.channel_platform_12315, 0)::bigint AS channel_platform_12315, coalesce(f.channel_odr, 0)::bigint AS channel_odr, coalesce(f.category_after_sales_service, 0)::bigint AS category_after_sales_service, coalesce(f.category_product_quality, 0)::bigint AS category_product_quality, coalesce(f.category_prepaid_consumption, 0)::bigint AS category_prepaid_consumption, coalesce(f.category_online_purchase_return, 0)::bigint AS category_online_purchase_return, coalesce(f.category_mall_after_sales, 0)::bigint AS category_mall_after_sales, coalesce(f.category_other, 0)::bigint AS category_other, coalesce(f.amount_claimed, 0.00) AS amount_claimed, coalesce(f.amount_recovered, 0.00) AS amount_recovered, f.median_days_to_close, f.settlement_rate FROM (SELECT) one LEFT JOIN (
SELECT s.district_code AS key, sum(s.cases) AS total, sum(s.settled_online_mediations) AS settled_online_mediations,
       sum(s.amount_claimed) AS amount_claimed, sum(s.amount_recovered) AS amount_recovered,
       CASE WHEN ((sum(s.status_settled)) + (sum(s.status_not_settled)))::float8 > 0 THEN (sum(s.status_settled))::float8 / ((sum(s.status_settled)) + (sum(s.status_not_settled)))::float8 END AS settlement_rate, sum(s.status_received) AS status_received, sum(s.status_accepted) AS status_accepted, sum(s.status_mediating) AS status_mediating, sum(s.status_settled) AS status_settled, sum(s.status_not_settled) AS status_not_settled, sum(s.status_transferred) AS status_transferred, sum(s.kind_complaint) AS kind_complaint, sum(s.kind_consultation) AS kind_consultation, sum(s.kind_illegal_conduct_lead) AS kind_illegal_conduct_lead, sum(s.channel_on_site) AS channel_on_site, sum(s.channel_online_mediation) AS channel_online_mediation, sum(s.channel_platform_12315) AS channel_platform_12315, sum(s.channel_odr) AS channel_odr, sum(s.category_after_sales_service) AS category_after_sales_service, sum(s.category_product_quality) AS category_product_quality, sum(s.category_prepaid_consumption) AS category_prepaid_consumption, sum(s.category_online_purchase_return) AS category_online_purchase_return, sum(s.category_mall_after_sales) AS category_mall_after_sales, sum(s.category_other) AS category_other,
       case_close_median(array_agg(s.district_code), array_agg(s.span), array_agg(s.starts)) AS median_days_to_close
  FROM case_summary s
 WHERE s.district_code = k4.key AND ((s.span = 'year' AND s.starts = ANY($2::date[])))
 GROUP BY 1) f ON true) t) AS "cases" FROM (SELECT t.code AS key) k4) _) AS "stats") obj3) AS "districts") obj1) AS "region") _)::text
-- $1: "310000"
-- $2: ["2020-01-01"]
-- $3: "received"
-- $4: "RECEIVED"
-- $5: "accepted"
-- $6: "ACCEPTED"
-- $7: "mediating"
-- $8: "MEDIATING"
-- $9: "settled"
-- $10: "SETTLED"
-- $11: "not_settled"
-- $12: "NOT_SETTLED"
-- $13: "transferred"
-- $14: "TRANSFERRED"
-- $15: "complaint"
-- $16: "COMPLAINT"
-- $17: "consultation"
-- $18: "CONSULTATION"
-- $19: "illegal_conduct_lead"
-- $20: "ILLEGAL_CONDUCT_LEAD"
-- $21: ["district","region"]
-- $22: 2020
-- $23: 2020
-- $24: "case"
