//! E-mail addresses: the one normalisation the form, the API and contact matching use.
//!
//! An address is stored as typed, with three changes only: surrounding white space
//! trimmed, Unicode normalised to NFC, and the domain lower-cased. Contacts are
//! matched on [`match_key`], which also ignores the case of the local part, since
//! no mail system people use treats `Ana` and `ana` as different mailboxes.

use unicode_normalization::UnicodeNormalization;

/// Providers where anyone can open a mailbox: an address there says nothing about
/// an employer. Marketers can extend this with their own list in fit rules.
pub const FREE_MAIL_DOMAINS: &[&str] = &[
    "aol.com",
    "gmail.com",
    "gmx.com",
    "gmx.de",
    "googlemail.com",
    "hotmail.com",
    "icloud.com",
    "inbox.ru",
    "list.ru",
    "live.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "outlook.com",
    "proton.me",
    "protonmail.com",
    "rambler.ru",
    "web.de",
    "yahoo.com",
    "yandex.com",
    "yandex.ru",
    "ya.ru",
    "zoho.com",
];

/// Why an address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid e-mail address")]
pub struct InvalidEmail;

/// The address as it will be stored, or why it cannot be.
pub fn normalize(typed: &str) -> Result<String, InvalidEmail> {
    let composed: String = typed.trim().nfc().collect();
    let (local, domain) = composed.rsplit_once('@').ok_or(InvalidEmail)?;
    let address = format!("{local}@{}", domain.to_lowercase());
    if local.is_empty() || domain.is_empty() || !email_address::EmailAddress::is_valid(&address) {
        return Err(InvalidEmail);
    }
    Ok(address)
}

/// The key contacts are matched on: the normalised address, all lower case.
pub fn match_key(normalized: &str) -> String {
    normalized.to_lowercase()
}

/// The domain of a normalised address.
pub fn domain(normalized: &str) -> &str {
    normalized.rsplit_once('@').map_or("", |(_, domain)| domain)
}

/// Whether the address is at a free-mail provider.
pub fn is_free_mail(normalized: &str) -> bool {
    FREE_MAIL_DOMAINS.contains(&domain(normalized))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let cases = [
            (" ANA.Perez@Example.ORG ", Ok("ANA.Perez@example.org")),
            ("ana+news@example.org", Ok("ana+news@example.org")),
            // "é" typed as e + combining accent becomes the single composed character.
            ("jose\u{301}@example.org", Ok("jos\u{e9}@example.org")),
            ("борис@пример.рф", Ok("борис@пример.рф")),
            ("Борис@ПРИМЕР.РФ", Ok("Борис@пример.рф")),
            ("no-at-sign", Err(InvalidEmail)),
            ("@example.org", Err(InvalidEmail)),
            ("ana@", Err(InvalidEmail)),
            ("two words@example.org", Err(InvalidEmail)),
        ];
        for (typed, expected) in cases {
            assert_eq!(
                normalize(typed).as_deref().map_err(Clone::clone),
                expected,
                "{typed}"
            );
        }
    }

    #[test]
    fn matching_ignores_case_everywhere() {
        let a = normalize(" ANA.Perez@example.org").unwrap();
        let b = normalize("ana.perez@EXAMPLE.org").unwrap();
        assert_ne!(a, b);
        assert_eq!(match_key(&a), match_key(&b));
    }

    #[test]
    fn free_mail() {
        assert!(is_free_mail("someone@gmail.com"));
        assert!(!is_free_mail("someone@acme.io"));
    }
}
