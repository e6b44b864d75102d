//! Finding a secret in what another party sent back, however it was spelled.
//!
//! Services echo what they were sent (an error page quoting the URL, a JSON
//! error repeating the token), each with its own escaping: percent-encoding
//! of any set of characters in either case, `+` or `%20` for a space, JSON's
//! `\/` and `\u00XX`. Matching the secret byte by byte in any of those
//! spellings catches them all, where comparing a few pre-encoded forms would
//! miss whichever encoder was not foreseen.

/// What a found secret is replaced with.
pub const REDACTED: &str = "[redacted]";

/// `bytes` with every occurrence of each secret, in any spelling, replaced
/// by [`REDACTED`]. Empty secrets are ignored.
pub fn redact(bytes: &[u8], secrets: &[&[u8]]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        out = redact_one(&out, secret);
    }
    out
}

/// [`redact`] for text.
pub fn redact_text(text: &str, secrets: &[&str]) -> String {
    let secrets: Vec<&[u8]> = secrets.iter().map(|s| s.as_bytes()).collect();
    String::from_utf8_lossy(&redact(text.as_bytes(), &secrets)).into_owned()
}

fn redact_one(bytes: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        // Only these bytes can start a spelling of the secret.
        let Some(skip) = memchr::memchr3(secret[0], b'%', b'\\', &bytes[at..])
            .into_iter()
            .chain(
                (secret[0] == b' ')
                    .then(|| memchr::memchr(b'+', &bytes[at..]))
                    .flatten(),
            )
            .min()
        else {
            break;
        };
        out.extend_from_slice(&bytes[at..at + skip]);
        at += skip;
        match spelled_at(&bytes[at..], secret) {
            Some(len) => {
                out.extend_from_slice(REDACTED.as_bytes());
                at += len;
            }
            None => {
                out.push(bytes[at]);
                at += 1;
            }
        }
    }
    out.extend_from_slice(&bytes[at.min(bytes.len())..]);
    out
}

/// How many bytes at the start of `text` spell `secret`, if they do.
fn spelled_at(text: &[u8], secret: &[u8]) -> Option<usize> {
    let mut at = 0;
    for &wanted in secret {
        at += spelled_byte(&text[at..], wanted)?;
    }
    Some(at)
}

/// How many bytes at the start of `text` spell the one byte `wanted`.
fn spelled_byte(text: &[u8], wanted: u8) -> Option<usize> {
    match text {
        [b, ..] if *b == wanted => Some(1),
        [b'+', ..] if wanted == b' ' => Some(1),
        [b'%', hi, lo, ..] if hex_pair(*hi, *lo) == Some(wanted) => Some(3),
        [b'\\', b'/', ..] if wanted == b'/' => Some(2),
        [b'\\', b'u', a, b, c, d, ..]
            if hex_pair(*a, *b) == Some(0) && hex_pair(*c, *d) == Some(wanted) =>
        {
            Some(6)
        }
        _ => None,
    }
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
        let out = redact(body, &[b"abc", b"xyz", b""]);
        assert_eq!(out, b"\xff\x00token=[redacted]&code=[redacted]\xfe");
    }
}
