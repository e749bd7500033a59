-- A site can have several webhooks; each outbox row is one event for one of them.
ALTER TABLE outbox ADD COLUMN webhook TEXT;
