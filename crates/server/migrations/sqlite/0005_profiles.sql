-- The engagement profile kept on each identified contact, updated with each new
-- event (the incremental path) and rebuilt from stored events on identification,
-- recycling and re-scoring (the full path). Both paths give the same profile.
ALTER TABLE contacts ADD COLUMN profile TEXT;
