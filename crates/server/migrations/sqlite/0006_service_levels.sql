-- Breaches of the service levels: a lead left in a stage (MQL with the
-- qualification team, SAL with sales) longer than agreed. One row per stay in the
-- stage, so a breach is recorded and announced once.
CREATE TABLE sla_breaches (
    contact_id  TEXT NOT NULL,
    site_id     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    entered_at  INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    detected_at INTEGER NOT NULL,
    PRIMARY KEY (contact_id, stage, entered_at)
);
CREATE INDEX sla_breaches_by_site ON sla_breaches (site_id, detected_at);
