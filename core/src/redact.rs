//! Finding a secret in what another party sent back, as it is usually
//! escaped.
//!
//! Services echo what they were sent (an error page quoting the URL, a JSON
//! error repeating the token), each with its own escaping: percent-encoding
//! of any set of characters in either case, `+` for a space, JSON's `\/`,
//! `\\`, `\"` and `\u00XX`. The secret is matched byte by byte, each byte in
//! any of those spellings, so whichever mix an encoder chose is found.
//! Not recognised: double encoding, HTML entities, base64, or a secret cut
//! short.

/// What a found secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `bytes` with every occurrence of each secret replaced by [`REDACTED`].
/// Empty secrets are ignored; a body holding none is returned as it came.
pub fn redact(bytes: Vec<u8>, secrets: &[&[u8]]) -> Vec<u8> {
    let mut out = bytes;
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        let mut found = Spellings::new(&out, secret).peekable();
        if found.peek().is_none() {
            continue;
        }
        let mut redacted = Vec::with_capacity(out.len());
        let mut copied = 0;
        for (start, len) in found {
            redacted.extend_from_slice(&out[copied..start]);
            redacted.extend_from_slice(REDACTED.as_bytes());
            copied = start + len;
        }
        redacted.extend_from_slice(&out[copied..]);
        out = redacted;
    }
    out
}

/// [`redact`] for text.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    String::from_utf8_lossy(&redact(text.as_bytes().to_vec(), &secrets)).into_owned()
}

/// Whether `text` holds `secret` anywhere.
pub fn contains(text: &[u8], secret: &[u8]) -> bool {
    !secret.is_empty() && Spellings::new(text, secret).next().is_some()
}

/// Whether the whole of `text` is one spelling of `secret`.
pub fn is_spelling(text: &[u8], secret: &[u8]) -> bool {
    !secret.is_empty() && spelling_ends(text, secret).contains(&text.len())
}

/// The non-overlapping spellings of a (non-empty) secret in a text, as
/// (start, length), each the longest one at its start.
struct Spellings<'a> {
    text: &'a [u8],
    secret: &'a [u8],
    /// Where to look next.
    from: usize,
    /// The next `+` at or after `from`, when the secret starts with a space
    /// (kept so a text of spaces is not rescanned for `+` at every step).
    next_plus: Option<usize>,
}

impl<'a> Spellings<'a> {
    fn new(text: &'a [u8], secret: &'a [u8]) -> Self {
        let next_plus = (secret[0] == b' ')
            .then(|| memchr::memchr(b'+', text))
            .flatten();
        Spellings {
            text,
            secret,
            from: 0,
            next_plus,
        }
    }

    /// The next place a spelling of the secret's first byte can start.
    fn next_start(&mut self) -> Option<usize> {
        let from = self.from;
        let common =
            memchr::memchr3(self.secret[0], b'%', b'\\', self.text.get(from..)?).map(|i| from + i);
        if self.next_plus.is_some_and(|p| p < from) {
            self.next_plus = memchr::memchr(b'+', &self.text[from..]).map(|i| from + i);
        }
        match (common, self.next_plus) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl Iterator for Spellings<'_> {
    type Item = (usize, usize);

    fn next(&mut self) -> Option<(usize, usize)> {
        while let Some(start) = self.next_start() {
            match spelling_ends(&self.text[start..], self.secret).last() {
                Some(&len) => {
                    self.from = start + len;
                    return Some((start, len));
                }
                None => self.from = start + 1,
            }
        }
        None
    }
}

/// Every length of a prefix of `text` that spells `secret`, ascending.
/// A byte may have several spellings that start alike (`%` or `%25`, `\`
/// or `\\`), so each step keeps every way the text could go on.
fn spelling_ends(text: &[u8], secret: &[u8]) -> Vec<usize> {
    let mut ends = vec![0];
    for &wanted in secret {
        let mut next: Vec<usize> = ends
            .iter()
            .flat_map(|&at| byte_spellings(&text[at..], wanted).map(move |len| at + len))
            .collect();
        next.sort_unstable();
        next.dedup();
        ends = next;
        if ends.is_empty() {
            break;
        }
    }
    ends
}

/// The lengths of the spellings of the byte `wanted` at the start of `text`.
fn byte_spellings(text: &[u8], wanted: u8) -> impl Iterator<Item = usize> {
    let raw = text.first() == Some(&wanted);
    let plus = wanted == b' ' && text.first() == Some(&b'+');
    let percent = matches!(text, [b'%', hi, lo, ..] if hex_pair(*hi, *lo) == Some(wanted));
    let json_escape =
        matches!(wanted, b'/' | b'\\' | b'"') && matches!(text, [b'\\', c, ..] if *c == wanted);
    let json_unicode = matches!(text,
        [b'\\', b'u', a, b, c, d, ..]
            if hex_pair(*a, *b) == Some(0) && hex_pair(*c, *d) == Some(wanted));
    [
        (raw || plus, 1),
        (json_escape, 2),
        (percent, 3),
        (json_unicode, 6),
    ]
    .into_iter()
    .filter_map(|(spelled, len)| spelled.then_some(len))
}

fn hex_pair(hi: u8, lo: u8) -> Option<u8> {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    Some(digit(hi)? << 4 | digit(lo)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(text: &str, secret: &str) -> String {
        redact_text(text, &[secret])
    }

    #[test]
    fn every_spelling_of_the_secret_is_redacted() {
        let secret = "k/y+1 ~!";
        for spelled in [
            "k/y+1 ~!",                   // raw
            "k%2Fy%2B1+%7E%21",           // form-urlencoded
            "k%2fy%2b1%20~!",             // lowercase hex, %20, JavaScript's safe set
            "%6B%2F%79%2B%31%20%7E%21",   // everything encoded
            "k\\/y+1 ~!",                 // JSON with escaped slashes
            "\\u006b/y\\u002b1\\u0020~!", // JSON \u escapes
        ] {
            assert_eq!(
                redacted(&format!("a {spelled} b"), secret),
                "a [redacted] b",
                "{spelled}"
            );
        }
    }

    #[test]
    fn percent_signs_backslashes_and_quotes_in_the_secret_are_found_escaped() {
        let secret = r#"a%b\c"d"#;
        for spelled in [
            r#"a%b\c"d"#,
            r#"a%25b%5Cc%22d"#,
            r#"a%b\\c\"d"#,
            r#"a\u0025b\u005cc\u0022d"#,
        ] {
            assert_eq!(redacted(&format!("<{spelled}>"), secret), "<[redacted]>");
        }
    }

    #[test]
    fn text_that_only_resembles_the_secret_is_kept() {
        let secret = "k/y+1";
        for kept in ["k/y+2", "k%2Gy+1", "k\\y+1", "%", "\\u00", "k/y+"] {
            assert_eq!(redacted(kept, secret), kept);
        }
        assert_eq!(
            redacted("k/y+k/y+1%k/y%2B1", secret),
            "k/y+[redacted]%[redacted]"
        );
    }

    #[test]
    fn several_secrets_and_binary_bodies() {
        let body = b"\xff\x00token=abc&code=xyz\xfe";
        let out = redact(body.to_vec(), &[b"abc", b"xyz", b""]);
        assert_eq!(out, b"\xff\x00token=[redacted]&code=[redacted]\xfe");
    }

    #[test]
    fn whole_spellings_and_containment() {
        assert!(is_spelling(b"k%2Fy", b"k/y"));
        assert!(!is_spelling(b"k%2Fy!", b"k/y"));
        assert!(!is_spelling(b"", b"k/y"));
        assert!(contains(b"next=k%2fy&x=1", b"k/y"));
        assert!(!contains(b"next=k%252Fy", b"k/y"));
    }

    #[test]
    fn a_body_of_spaces_is_scanned_once_for_a_secret_starting_with_one() {
        // Quadratic rescanning for `+` would take minutes here.
        let body = vec![b' '; 1 << 20];
        assert_eq!(redact(body.clone(), &[b" x"]).len(), body.len());
    }
}
