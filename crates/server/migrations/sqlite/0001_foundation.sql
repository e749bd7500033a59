-- Headwater's first schema: visitors and their events, contacts and their stage
-- history, form submissions, and the handoff outbox. Times are milliseconds since
-- the Unix epoch (UTC). JSON columns hold core's serde types.

CREATE TABLE contacts (
    id               TEXT PRIMARY KEY,
    site_id          TEXT NOT NULL,
    email            TEXT,              -- as typed: trimmed, NFC, domain lower-cased
    email_key        TEXT,              -- all lower case: what contacts are matched on
    answers          TEXT NOT NULL DEFAULT '{}',
    stage            TEXT NOT NULL,
    fit_score        INTEGER NOT NULL DEFAULT 0,
    engagement_score INTEGER NOT NULL DEFAULT 0,
    verdict          TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX contacts_by_email ON contacts (site_id, email_key);

CREATE TABLE visitors (
    site_id    TEXT NOT NULL,
    id         TEXT NOT NULL,
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    PRIMARY KEY (site_id, id)
);
CREATE INDEX visitors_by_contact ON visitors (contact_id);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    site_id     TEXT NOT NULL,
    visitor_id  TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    occurred_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    url         TEXT NOT NULL,
    body        TEXT NOT NULL           -- the whole event as received, JSON
);
CREATE INDEX events_by_visitor ON events (site_id, visitor_id, occurred_at);

CREATE TABLE stage_changes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    contact_id TEXT NOT NULL,
    from_stage TEXT,
    to_stage   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX stage_changes_by_contact ON stage_changes (contact_id, id);

CREATE TABLE submissions (
    token      TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL,
    form_id    TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    answers    TEXT NOT NULL,
    at         INTEGER NOT NULL
);

CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,   -- also the receiver's idempotency key
    site_id         TEXT NOT NULL,
    contact_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL,      -- pending, delivered, dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
