//! Navigation: which changes of the address are new page views, and which links
//! leave the site or fetch a file.

use crate::wire::{after_byte, url_host, url_path};

/// Links to files with these extensions are downloads, wherever they are hosted.
pub const DOWNLOAD_EXTENSIONS: &[&str] = &[
    "7z", "apk", "avi", "csv", "deb", "dmg", "doc", "docx", "epub", "exe", "gz", "iso", "key",
    "m4a", "mov", "mp3", "mp4", "msi", "odp", "ods", "odt", "pdf", "pkg", "ppt", "pptx", "rar",
    "rpm", "rtf", "tar", "tgz", "txt", "wav", "xls", "xlsx", "xz", "zip",
];

/// What following a link means for the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A link to another host.
    Outbound,
    /// A link to a file, by the extension of its path.
    Download,
}

/// Whether moving from `previous` to `next` (both absolute URLs) shows a new page.
/// Only a new path does: a changed query (filters, sorting) is the same page, and so
/// is a changed fragment unless the site routes by the fragment (`hash_routing`).
pub fn is_new_page(previous: &str, next: &str, hash_routing: bool) -> bool {
    if url_path(previous) != url_path(next) || url_host(previous) != url_host(next) {
        return true;
    }
    hash_routing && fragment(previous) != fragment(next)
}

/// What a click on a link to `href` (absolute, as the browser resolves it) from
/// the page at `page` is: a download, an outbound link, or neither. `mailto:`,
/// `tel:` and `javascript:` links are neither.
pub fn classify_link(page: &str, href: &str) -> Option<LinkKind> {
    let target_host = url_host(href)?;
    if is_download(url_path(href)) {
        return Some(LinkKind::Download);
    }
    let same_host = url_host(page).is_some_and(|host| host.eq_ignore_ascii_case(target_host));
    (!same_host).then_some(LinkKind::Outbound)
}

fn is_download(path: &str) -> bool {
    let Some(dot) = path.bytes().rposition(|byte| byte == b'.') else {
        return false;
    };
    let extension = path.get(dot + 1..).unwrap_or("");
    if extension.contains('/') {
        return false;
    }
    DOWNLOAD_EXTENSIONS
        .iter()
        .any(|known| known.eq_ignore_ascii_case(extension))
}

fn fragment(url: &str) -> &str {
    after_byte(url, b'#').unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_new_path_is_a_new_page() {
        let cases = [
            (
                "https://a.test/catalog",
                "https://a.test/catalog?color=red",
                false,
                false,
            ),
            (
                "https://a.test/catalog?color=red",
                "https://a.test/catalog?color=red&size=m",
                false,
                false,
            ),
            (
                "https://a.test/catalog?color=red&size=m",
                "https://a.test/catalog?color=blue",
                false,
                false,
            ),
            (
                "https://a.test/catalog?color=blue",
                "https://a.test/checkout",
                false,
                true,
            ),
            (
                "https://a.test/checkout",
                "https://a.test/catalog?color=blue",
                false,
                true,
            ),
            (
                "https://a.test/catalog",
                "https://a.test/catalog#reviews",
                false,
                false,
            ),
            (
                "https://a.test/catalog",
                "https://a.test/catalog#reviews",
                true,
                true,
            ),
            (
                "https://a.test/#/home",
                "https://a.test/#/about",
                true,
                true,
            ),
            (
                "https://a.test/#/home",
                "https://a.test/#/home",
                true,
                false,
            ),
            ("https://a.test/x", "https://b.test/x", false, true),
        ];
        for (previous, next, hash_routing, expected) in cases {
            assert_eq!(
                is_new_page(previous, next, hash_routing),
                expected,
                "{previous} -> {next} (hash routing {hash_routing})"
            );
        }
    }

    #[test]
    fn links_out_and_downloads() {
        let page = "https://acme.test/www/blog/post.html";
        let cases = [
            ("https://acme.test/www/pricing.html", None),
            ("https://ACME.test/www/pricing.html", None),
            ("https://partner.test/", Some(LinkKind::Outbound)),
            ("http://acme.test:8080/", Some(LinkKind::Outbound)),
            (
                "https://acme.test/www/whitepaper.PDF",
                Some(LinkKind::Download),
            ),
            (
                "https://cdn.test/files/report.xlsx?v=2",
                Some(LinkKind::Download),
            ),
            ("https://acme.test/releases/v1.2/", None),
            ("https://acme.test/download", None),
            ("mailto:sales@acme.test", None),
            ("javascript:void(0)", None),
        ];
        for (href, expected) in cases {
            assert_eq!(classify_link(page, href), expected, "{href}");
        }
    }
}
