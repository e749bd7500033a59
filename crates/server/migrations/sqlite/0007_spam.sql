-- Form submissions taken for spam (a filled honeypot, a form sent too fast):
-- kept for review, never turned into a contact. Keyed by the form token, so a
-- repeat is stored once.
CREATE TABLE spam_submissions (
    token      TEXT PRIMARY KEY,
    site_id    TEXT NOT NULL,
    form_id    TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    reason     TEXT NOT NULL,
    answers    TEXT NOT NULL,
    at         INTEGER NOT NULL
);
CREATE INDEX spam_submissions_by_site ON spam_submissions (site_id, at);
