//! E-mail addresses: the one normalisation the form, the API and contact matching use.
//!
//! An address is stored as typed, with three changes only: surrounding white space
//! trimmed, Unicode normalised to NFC, and the domain lower-cased (an
//! internationalised domain stays in Unicode: lower case, never punycode).
//! Contacts are matched on [`match_key`], which also ignores the case of the local
//! part, since no mail system people use treats `Ana` and `ana` as different
//! mailboxes.
//!
//! Free-mail and disposable domains are flagged for the lead definition's fit
//! rules (`free_mail`, `disposable`).

use std::collections::HashSet;
use std::sync::LazyLock;

use email_address::{EmailAddress, Options};
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

/// What an address people type into a form may look like: `local@domain.tld`, no
/// display name (`Ana <ana@example.org>`), no IP-address literal, and a domain of
/// at least two labels (`a@b` reaches no mailbox on the internet).
const SYNTAX: Options = Options {
    minimum_sub_domains: 2,
    allow_domain_literal: false,
    allow_display_text: false,
    allow_long_local_parts: false,
};

/// The address as it will be stored, or why it cannot be.
pub fn normalize(typed: &str) -> Result<String, InvalidEmail> {
    normalize_with(typed, nfc)
}

/// [`normalize`] with another implementation of NFC: the browser's, in the form
/// bundle (see [`crate::form::Engine`]).
pub fn normalize_with(typed: &str, nfc: impl Fn(&str) -> String) -> Result<String, InvalidEmail> {
    let composed = nfc(typed.trim());
    let (local, domain) = composed.rsplit_once('@').ok_or(InvalidEmail)?;
    let address = format!("{local}@{}", domain.to_lowercase());
    if local.is_empty() || domain.is_empty() {
        return Err(InvalidEmail);
    }
    EmailAddress::parse_with_options(&address, SYNTAX).map_err(|_| InvalidEmail)?;
    Ok(address)
}

/// The text in Unicode Normalization Form C, by the unicode-normalization crate.
pub fn nfc(text: &str) -> String {
    text.nfc().collect()
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

/// Whether the address is at a disposable (throw-away) mail provider, or at a
/// subdomain of one: the mailchecker crate's maintained list, looked up in a set
/// built on first use.
///
/// FIXME: the list holds domains in ASCII (punycode for internationalised ones)
/// while addresses keep their Unicode domain, so a disposable provider with an
/// internationalised domain is not recognised. Converting with IDNA for the
/// look-up only would fix it; no such provider is on the list today.
pub fn is_disposable(normalized: &str) -> bool {
    static DISPOSABLE: LazyLock<HashSet<&'static str>> =
        LazyLock::new(|| mailchecker::blacklist().into_iter().collect());
    let domain = domain(normalized).to_lowercase();
    let mut candidate = domain.as_str();
    loop {
        if DISPOSABLE.contains(candidate) {
            return true;
        }
        match candidate.split_once('.') {
            Some((_, parent)) if parent.contains('.') => candidate = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation() {
        let cases = [
            (" ANA.Perez@Example.ORG ", Ok("ANA.Perez@example.org")),
            (" Ana.Perez+x@Example.ORG ", Ok("Ana.Perez+x@example.org")),
            ("ana+news@example.org", Ok("ana+news@example.org")),
            // "é" typed as e + combining accent becomes the single composed character.
            ("jose\u{301}@example.org", Ok("jos\u{e9}@example.org")),
            ("ana@caf\u{65}\u{301}.example", Ok("ana@caf\u{e9}.example")),
            ("борис@пример.рф", Ok("борис@пример.рф")),
            ("Борис@ПРИМЕР.РФ", Ok("Борис@пример.рф")),
            // Internationalised domains stay in Unicode: lower case, not punycode.
            ("用户@例子.广告", Ok("用户@例子.广告")),
            ("Pelé@FUTEBOL.Example", Ok("Pelé@futebol.example")),
            ("\tana@example.org\n", Ok("ana@example.org")),
            ("no-at-sign", Err(InvalidEmail)),
            ("@example.org", Err(InvalidEmail)),
            ("ana@", Err(InvalidEmail)),
            ("a@b", Err(InvalidEmail)),
            ("two words@example.org", Err(InvalidEmail)),
            ("Ana <ana@example.org>", Err(InvalidEmail)),
            ("ana@[192.0.2.1]", Err(InvalidEmail)),
            ("ana@example..org", Err(InvalidEmail)),
            ("ana.@example.org", Err(InvalidEmail)),
            ("ana@-example.org", Err(InvalidEmail)),
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
    fn over_long_addresses_are_refused() {
        let local_part = |length| format!("{}@example.org", "a".repeat(length));
        assert!(normalize(&local_part(64)).is_ok());
        assert_eq!(normalize(&local_part(65)), Err(InvalidEmail));
        let label = "d".repeat(63);
        let domain = [label.as_str(); 4].join(".");
        assert_eq!(normalize(&format!("ana@{domain}.org")), Err(InvalidEmail));
    }

    #[test]
    fn free_mail_and_disposable_domains() {
        let cases = [
            ("someone@gmail.com", true, false),
            ("someone@yandex.ru", true, false),
            ("someone@acme.io", false, false),
            ("someone@mailinator.com", false, true),
            ("someone@guerrillamail.com", false, true),
            ("someone@ok.33mail.com", false, true),
            ("someone@пример.рф", false, false),
        ];
        for (address, free, disposable) in cases {
            assert_eq!(is_free_mail(address), free, "{address}");
            assert_eq!(is_disposable(address), disposable, "{address}");
        }
    }
}
