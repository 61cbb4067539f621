-- Consumer education (消费教育) at contact points: trainings and law lectures counted in
-- attendances (人次), leaflets and other materials handed out counted in copies (份), the
-- 3·15 campaigns and other activities. One row per point, day and kind: the natural key
-- imports upsert by. Public figures, like the network's: no row access rules.
CREATE TABLE education_activity (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_point_id  bigint NOT NULL REFERENCES contact_point (id),
    held_on           date NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('training', 'leaflets', 'campaign_315', 'other')),
    attendance        integer NOT NULL DEFAULT 0 CHECK (attendance >= 0),
    copies            integer NOT NULL DEFAULT 0 CHECK (copies >= 0),
    title             text NOT NULL DEFAULT '',
    UNIQUE (contact_point_id, held_on, kind)
);
CREATE INDEX education_activity_day_idx ON education_activity (held_on, contact_point_id);
