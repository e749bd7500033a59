-- A form's points count once per contact: the lead engine looks up when a contact
-- first sent each form whenever it rebuilds the contact's profile.
CREATE INDEX submissions_by_contact ON submissions (contact_id, form_id, at);
