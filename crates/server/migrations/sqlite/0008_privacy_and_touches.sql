-- The day's random salt for cookieless visitor ids and hashed addresses; a day's
-- row is deleted once the day is over.
CREATE TABLE daily_salts (
    day  INTEGER PRIMARY KEY,   -- days since the Unix epoch (UTC)
    salt TEXT NOT NULL
);
-- Campaign attribution: the first touch and the latest non-direct touch of each
-- visitor (core's attribution::Touch as JSON), and the visitor's address as the
-- site's privacy setting allows (truncated or hashed; never the address).
ALTER TABLE visitors ADD COLUMN first_touch TEXT;
ALTER TABLE visitors ADD COLUMN first_touch_at INTEGER;
ALTER TABLE visitors ADD COLUMN last_touch TEXT;
ALTER TABLE visitors ADD COLUMN last_touch_at INTEGER;
ALTER TABLE visitors ADD COLUMN address TEXT;
