-- The three-tier honours (三级引领): municipal demonstration points (市级示范联络点), Pudong's
-- hundred-best points (浦东百佳联络点) and grass-roots excellent points (基层优秀联络点), which
-- the local market supervision offices name among the points of their area, lead the rest.
-- The tier follows from the honour, so the database derives it: 1, 2 or 3.
ALTER TABLE contact_point_honour DROP CONSTRAINT contact_point_honour_honour_check;
ALTER TABLE contact_point_honour
    ADD CONSTRAINT contact_point_honour_honour_check
        CHECK (honour IN ('municipal_demonstration', 'pudong_hundred_best', 'grassroots_excellent')),
    ADD COLUMN tier smallint NOT NULL GENERATED ALWAYS AS (
        CASE honour WHEN 'municipal_demonstration' THEN 1 WHEN 'pudong_hundred_best' THEN 2 ELSE 3 END
    ) STORED;
CREATE INDEX contact_point_honour_tier_idx ON contact_point_honour (tier, contact_point_id);
