-- The report's source picker lists the distinct first touches of a site's
-- contacts from this index alone, without reading the contacts.
CREATE INDEX contacts_by_source
    ON contacts (site_id, first_channel, first_campaign, first_referrer);
