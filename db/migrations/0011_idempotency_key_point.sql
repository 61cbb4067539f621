-- The contact point a key's write was made at: a replay is answered when the writer may
-- still write there, even if the case was handed over to another point since (the write
-- did happen). Keys stored before this have none: their case's point stands in.
ALTER TABLE idempotency_key ADD COLUMN contact_point_id bigint REFERENCES contact_point (id);
