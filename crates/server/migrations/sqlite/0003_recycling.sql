-- When a lead was last returned to marketing: from then on, only newer engagement
-- counts towards qualifying it again. changed_at moves with every stage change, for
-- the pull API's "changed since".
ALTER TABLE contacts ADD COLUMN recycled_at INTEGER;
ALTER TABLE contacts ADD COLUMN stage_changed_at INTEGER;
CREATE INDEX contacts_by_stage ON contacts (site_id, stage, stage_changed_at);
