-- The contact points as a versioned table (db/answers.py): any write to one bumps its
-- version, as for the region and district tables (migration 0022), so statistics that count
-- contact points (the network's and a scope's point figures: totals, five-into, by host
-- kind) are kept and served again until a contact point is added, changed or removed.
-- Contact points change by imports and by hand, rarely; cases never write them.
CREATE TRIGGER contact_point_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON contact_point
    FOR EACH STATEMENT EXECUTE FUNCTION reference_version();
