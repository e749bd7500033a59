-- Outbox rows are claimed for a while by the worker delivering them, so that
-- several server processes can share one outbox.
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
