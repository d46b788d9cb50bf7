//! Whether an email address is well formed, checked by hand (no regex engine).
//!
//! The check is deliberately a shape check, not RFC 5322 in full: quoted local parts,
//! comments and IP-literal domains are refused, because shops do not take them.
//! Internationalised addresses (RFC 6531) are accepted: letters of any script, and
//! the combining marks those scripts need, may appear in the local part and the
//! domain. A false rejection loses an order; a false acceptance only bounces a mail.

/// Longest address, in bytes (RFC 5321 forward path less the angle brackets).
const MAX_ADDRESS_BYTES: usize = 254;
/// Longest local part, in bytes (RFC 5321).
const MAX_LOCAL_BYTES: usize = 64;
/// ASCII characters a local part may hold besides letters, digits and dots (RFC 5322
/// `atext`).
const LOCAL_SPECIALS: &str = "!#$%&'*+-/=?^_`{|}~";

/// Why `address` is not a well-formed email address, or `None` when it is.
pub fn email_problem(address: &str) -> Option<&'static str> {
    if address.is_empty() {
        return Some("is empty");
    }
    if address.len() > MAX_ADDRESS_BYTES {
        return Some("is longer than 254 bytes");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains whitespace or a control character");
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Some("must contain exactly one '@'");
    };
    local_problem(local).or_else(|| domain_problem(domain))
}

fn local_problem(local: &str) -> Option<&'static str> {
    if local.is_empty() {
        return Some("has an empty local part");
    }
    if local.len() > MAX_LOCAL_BYTES {
        return Some("has a local part longer than 64 bytes");
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Some("has a local part with a leading, trailing or doubled dot");
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '.' || LOCAL_SPECIALS.contains(c) || is_word_char(c)
    };
    if !local.chars().all(allowed) {
        return Some("has a character not allowed in the local part");
    }
    None
}

fn domain_problem(domain: &str) -> Option<&'static str> {
    if domain.is_empty() {
        return Some("has an empty domain");
    }
    if !domain.contains('.') {
        return Some("has a domain without a dot");
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Some("has an empty domain label (a leading, trailing or doubled dot)");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Some("has a domain label that starts or ends with a hyphen");
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || is_word_char(c);
        if !label.chars().all(allowed) {
            return Some("has a domain character other than a letter, digit or hyphen");
        }
    }
    let tld = domain.rsplit('.').next().unwrap_or_default();
    if tld.chars().count() < 2 {
        return Some("has a top-level domain shorter than 2 characters");
    }
    if tld.chars().all(|c| c.is_ascii_digit()) {
        return Some("has a numeric top-level domain");
    }
    None
}

/// A non-ASCII character that can be part of a word: a letter or digit of any
/// script, or a character of a script block (the combining marks and viramas of
/// Indic, Thai or Arabic words are not `alphanumeric` but belong in them). Refused:
/// Latin-1 punctuation, the general punctuation and symbol blocks, CJK and
/// full-width punctuation (U+3002 and U+FF0E look like dots), specials.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    // Zero-width non-joiner and joiner are required inside some Persian and Indic words.
    if c.is_alphanumeric() || c == '\u{200C}' || c == '\u{200D}' {
        return true;
    }
    !matches!(
        c,
        '\u{80}'..='\u{BF}'
            | '\u{D7}'
            | '\u{F7}'
            | '\u{2000}'..='\u{2BFF}'
            | '\u{3000}'..='\u{303F}'
            | '\u{FE10}'..='\u{FE6F}'
            | '\u{FF00}'..='\u{FF20}'
            | '\u{FF3B}'..='\u{FF40}'
            | '\u{FF5B}'..='\u{FF65}'
            | '\u{FFF0}'..='\u{FFFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_addresses_pass() {
        let long_local = "a".repeat(64);
        let valid = [
            "ada@example.com",
            "first.last+tag@sub.example.co.uk",
            "o'brien@example.ie",
            "x@a-b.io",
            "1234@example.com",
            "ädä@exämple.de",
            "josé@correo.es",
            "用户@例子.广告",
            "пользователь@пример.рф",
            "θσερ@παράδειγμα.ελ",
            "ユーザー@example.jp",
            "user@हिन्दी.भारत",
            "user@ตัวอย่าง.ไทย",
            "user@xn--bcher-kva.example",
            &format!("{long_local}@example.com"),
        ];
        for address in valid {
            assert_eq!(email_problem(address), None, "{address}");
        }
    }

    #[test]
    fn malformed_addresses_fail() {
        let long_local = format!("{}@example.com", "a".repeat(65));
        let long_address = format!("a@{}.com", "b".repeat(250));
        let invalid = [
            ("", "is empty"),
            ("ada.example.com", "must contain exactly one '@'"),
            ("ada@@example.com", "must contain exactly one '@'"),
            ("a@b@example.com", "must contain exactly one '@'"),
            ("@example.com", "has an empty local part"),
            ("ada@", "has an empty domain"),
            ("ada@localhost", "has a domain without a dot"),
            (
                "ada @example.com",
                "contains whitespace or a control character",
            ),
            (
                "ada@exa mple.com",
                "contains whitespace or a control character",
            ),
            (
                "ada@example.com\n",
                "contains whitespace or a control character",
            ),
            (
                "ada\u{a0}x@example.com",
                "contains whitespace or a control character",
            ),
            (
                ".ada@example.com",
                "has a local part with a leading, trailing or doubled dot",
            ),
            (
                "ada.@example.com",
                "has a local part with a leading, trailing or doubled dot",
            ),
            (
                "a..da@example.com",
                "has a local part with a leading, trailing or doubled dot",
            ),
            (
                "a\"da@example.com",
                "has a character not allowed in the local part",
            ),
            (
                "a(da)@example.com",
                "has a character not allowed in the local part",
            ),
            (
                "ada@.example.com",
                "has an empty domain label (a leading, trailing or doubled dot)",
            ),
            (
                "ada@example.com.",
                "has an empty domain label (a leading, trailing or doubled dot)",
            ),
            (
                "ada@example..com",
                "has an empty domain label (a leading, trailing or doubled dot)",
            ),
            (
                "ada@-example.com",
                "has a domain label that starts or ends with a hyphen",
            ),
            (
                "ada@example-.com",
                "has a domain label that starts or ends with a hyphen",
            ),
            (
                "ada@exam_ple.com",
                "has a domain character other than a letter, digit or hyphen",
            ),
            ("ada@example。com", "has a domain without a dot"),
            (
                "ada@exa…mple.com",
                "has a domain character other than a letter, digit or hyphen",
            ),
            (
                "ada@[127.0.0.1]",
                "has a domain character other than a letter, digit or hyphen",
            ),
            (
                "ada@example.c",
                "has a top-level domain shorter than 2 characters",
            ),
            ("ada@10.0.0.12", "has a numeric top-level domain"),
            (
                "ada@1.2.3.4",
                "has a top-level domain shorter than 2 characters",
            ),
            (&long_local, "has a local part longer than 64 bytes"),
            (&long_address, "is longer than 254 bytes"),
        ];
        for (address, problem) in invalid {
            assert_eq!(email_problem(address), Some(problem), "{address:?}");
        }
    }
}
