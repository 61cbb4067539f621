-- Keys for a contact point's staff: the role contact_point names its points (one or more),
-- and no other role names any.

ALTER TABLE api_key ADD COLUMN contact_point_codes text[] NOT NULL DEFAULT '{}';
ALTER TABLE api_key DROP CONSTRAINT api_key_role_check;
ALTER TABLE api_key ADD CONSTRAINT api_key_role_check
    CHECK (role IN ('partner', 'internal', 'case_officer', 'admin', 'contact_point'));
ALTER TABLE api_key ADD CONSTRAINT api_key_contact_point_codes_check
    CHECK ((role = 'contact_point') = (cardinality(contact_point_codes) > 0));
