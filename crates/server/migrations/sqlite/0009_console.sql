-- The console: the people who sign in, their sessions, and the versions of each
-- site's settings edited there. Contacts gain their first touch (for the report's
-- sources) and their owner (the last person who moved them).
CREATE TABLE users (
    id               TEXT PRIMARY KEY,
    email            TEXT NOT NULL UNIQUE,  -- lower case
    role             TEXT NOT NULL,         -- admin, marketer, qualification, sales
    password_hash    TEXT NOT NULL,         -- Argon2id, PHC string
    failed_signins   INTEGER NOT NULL DEFAULT 0,
    first_failure_at INTEGER,
    locked_until     INTEGER,
    created_at       INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,            -- SHA-256 of the cookie's value, hex
    user_id    TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_by_user ON sessions (user_id);

-- Each saved version of a site's settings, as the TOML the console shows. The
-- live settings are the highest version; the row id orders every version of
-- every site, so a process notices a change by the largest id alone.
CREATE TABLE site_settings (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    site_id    TEXT NOT NULL,
    version    INTEGER NOT NULL,
    settings   TEXT NOT NULL,
    author     TEXT NOT NULL,
    note       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (site_id, version)
);

ALTER TABLE contacts ADD COLUMN first_campaign TEXT;
ALTER TABLE contacts ADD COLUMN first_referrer TEXT;
ALTER TABLE contacts ADD COLUMN first_channel TEXT;
ALTER TABLE contacts ADD COLUMN owner TEXT;
-- The report reads the contacts whose stage changed since a moment.
CREATE INDEX contacts_by_change ON contacts (site_id, stage_changed_at);
-- The report's source picker lists the distinct first touches of a site's
-- contacts from this index alone, without reading the contacts.
CREATE INDEX contacts_by_source
    ON contacts (site_id, first_channel, first_campaign, first_referrer);
