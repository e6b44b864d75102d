//! Finding a secret in what another party sent back, as it is usually
//! escaped.
//!
//! Services echo what they were sent (an error page quoting the URL, a JSON
//! error repeating the token), each with its own escaping: percent-encoding
//! of any set of characters in either case, `+` for a space, and every JSON
//! escape (`\/ \\ \" \n \t \r \b \f`, and `\uXXXX` of any character, as a
//! surrogate pair beyond the basic plane). The secret is matched character
//! by character, each in any of those spellings, so whichever mix an
//! encoder chose is found. Not recognised: double encoding, HTML entities,
//! base64, or a secret cut short.

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
/// A character may have several spellings that start alike (`%` or `%25`,
/// `\\` or `\\\\`), so each step keeps every way the text could go on;
/// `ends[i]` holds where the text can be once `secret[..i]` is spelled.
fn spelling_ends(text: &[u8], secret: &[u8]) -> Vec<usize> {
    let mut ends: Vec<Vec<usize>> = vec![Vec::new(); secret.len() + 1];
    ends[0].push(0);
    // The furthest index of the secret spelled so far, by any way.
    let mut furthest = 0;
    for i in 0..secret.len() {
        if i > furthest {
            return Vec::new();
        }
        let mut here = std::mem::take(&mut ends[i]);
        here.sort_unstable();
        here.dedup();
        for &at in &here {
            for len in byte_spellings(&text[at..], secret[i]) {
                ends[i + 1].push(at + len);
                furthest = furthest.max(i + 1);
            }
            if let Some((width, len)) = json_char_escape(&text[at..], &secret[i..]) {
                ends[i + width].push(at + len);
                furthest = furthest.max(i + width);
            }
        }
        ends[i] = here;
    }
    let mut last = std::mem::take(&mut ends[secret.len()]);
    last.sort_unstable();
    last.dedup();
    last
}

/// The lengths of the spellings of the byte `wanted` at the start of
/// `text`: itself, `+` for a space, percent-encoded, or a JSON escape of an
/// ASCII character.
fn byte_spellings(text: &[u8], wanted: u8) -> impl Iterator<Item = usize> {
    let raw = text.first() == Some(&wanted);
    let plus = wanted == b' ' && text.first() == Some(&b'+');
    let percent = matches!(text, [b'%', hi, lo, ..] if hex_pair(*hi, *lo) == Some(wanted));
    let short_escape = matches!(text, [b'\\', c, ..] if json_short_escape(*c) == Some(wanted));
    [(raw || plus, 1), (short_escape, 2), (percent, 3)]
        .into_iter()
        .filter_map(|(spelled, len)| spelled.then_some(len))
}

/// The byte a JSON two-character escape `\c` stands for.
fn json_short_escape(c: u8) -> Option<u8> {
    Some(match c {
        b'"' | b'\\' | b'/' => c,
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        b'b' => 0x08,
        b'f' => 0x0c,
        _ => return None,
    })
}

/// A JSON `\uXXXX` escape (or surrogate pair) at the start of `text` that
/// spells the character `secret` starts with: (its width in the secret,
/// the escape's length in the text).
fn json_char_escape(text: &[u8], secret: &[u8]) -> Option<(usize, usize)> {
    if !text.starts_with(b"\\u") {
        return None;
    }
    let width = utf8_width(secret[0]);
    let wanted = std::str::from_utf8(secret.get(..width)?)
        .ok()?
        .chars()
        .next()?;
    let first = hex4(text.get(2..6)?)?;
    let (unit, len) = if (0xD800..0xDC00).contains(&first) {
        let low = text.get(6..12).filter(|t| t.starts_with(b"\\u"))?;
        let low = hex4(&low[2..])?;
        if !(0xDC00..0xE000).contains(&low) {
            return None;
        }
        (0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00), 12)
    } else {
        (first, 6)
    };
    (char::from_u32(unit)? == wanted).then_some((width, len))
}

/// How many bytes the UTF-8 character starting with `lead` takes (1 for a
/// byte that does not start one, so such a secret is matched bytewise).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => 1,
    }
}

/// Four hex digits, either case.
fn hex4(digits: &[u8]) -> Option<u32> {
    let [a, b, c, d] = digits else { return None };
    Some(u32::from(hex_pair(*a, *b)?) << 8 | u32::from(hex_pair(*c, *d)?))
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
    fn every_json_escape_is_seen_through() {
        let secret = "k\ny\t\r\u{8}\u{c}é😀";
        for spelled in [
            r"k\ny\t\r\b\fé😀",
            r"k\u000Ay\u0009\u000d\u0008\u000c\u00e9\ud83d\ude00",
            r"\u006b\ny\t\r\b\f\u00E9\uD83D\uDE00",
            "k%0Ay%09%0D%08%0C%C3%A9%F0%9F%98%80",
        ] {
            assert_eq!(
                redacted(&format!("<{spelled}>"), secret),
                "<[redacted]>",
                "{spelled}"
            );
        }
        // A lone high surrogate, or a different character, is not the secret.
        assert_eq!(
            redacted(r"k\ny\t\r\b\f\u00e9\ud83d", secret),
            r"k\ny\t\r\b\f\u00e9\ud83d"
        );
        assert_eq!(redacted(r"\u00e8", "é"), r"\u00e8");
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
