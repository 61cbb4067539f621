-- Streets and towns (街镇) as rows: district -> street/town -> contact point, the second
-- party of the three-party linkage (regulator, street/town government, contact point).
-- Until now a contact point carried its street or town as text; each distinct (district,
-- text) becomes a street, every point points at its own, and the text column goes.
CREATE TABLE street (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    district_code  text NOT NULL REFERENCES district (code),
    name           text NOT NULL CHECK (name <> ''),
    UNIQUE (district_code, name),
    UNIQUE (id, district_code)
);

INSERT INTO street (district_code, name)
SELECT DISTINCT district_code, street_town FROM contact_point ORDER BY 1, 2;

ALTER TABLE contact_point ADD COLUMN street_id bigint;
UPDATE contact_point p SET street_id = s.id
  FROM street s WHERE s.district_code = p.district_code AND s.name = p.street_town;
-- A point's street lies in the point's district: moving a point to another district moves
-- it to one of that district's streets in the same statement.
ALTER TABLE contact_point
    ALTER COLUMN street_id SET NOT NULL,
    ADD CONSTRAINT contact_point_street_fk FOREIGN KEY (street_id, district_code) REFERENCES street (id, district_code),
    DROP COLUMN street_town;
CREATE INDEX contact_point_street_idx ON contact_point (street_id, code);
