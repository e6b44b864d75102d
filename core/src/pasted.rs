//! A key as a person typed or pasted it, made fit to store.
//!
//! A key copied from a provider's page often brings a newline or spaces
//! with it; stored as is, it fails at the service and, worse, its escaped
//! echo (`key\n` as `key\\n`) slipped past the scrub. Surrounding
//! whitespace is trimmed, and the caller can tell the person so; a control
//! or invisible character inside the key refuses it.

use crate::vault::Secret;

/// A key checked for storing. The engine's save operations take only this,
/// so no key reaches the vault unchecked.
#[derive(Debug)]
pub struct PastedKey {
    secret: Secret,
    trimmed: bool,
}

/// Why a pasted key cannot be a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidKey {
    /// Nothing but whitespace.
    #[error("the key is empty")]
    Empty,
    /// A line break, tab or other control character inside the key.
    #[error(
        "the key contains a line break, tab or other control character; paste it as a single line"
    )]
    ControlCharacter,
    /// A character that shows as nothing (a zero-width space, a byte-order
    /// mark), which copying from a web page can bring along.
    #[error("the key contains an invisible character (U+{0:04X}); copy it again from its source")]
    InvisibleCharacter(u32),
}

impl PastedKey {
    /// What the person is told when their key was trimmed.
    pub const TRIMMED: &'static str =
        "The spaces or line breaks around the key you pasted were removed.";

    /// Checks a pasted key: trims surrounding whitespace, refuses control
    /// and invisible characters inside.
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidKey> {
        let raw = Secret::new(raw);
        let text = raw.expose();
        let key = text.trim_matches(|c: char| c.is_whitespace() || is_invisible(c));
        if key.is_empty() {
            return Err(InvalidKey::Empty);
        }
        if key.chars().any(char::is_control) {
            return Err(InvalidKey::ControlCharacter);
        }
        if let Some(c) = key.chars().find(|&c| is_invisible(c)) {
            return Err(InvalidKey::InvisibleCharacter(c.into()));
        }
        Ok(PastedKey {
            trimmed: key.len() != text.len(),
            secret: Secret::new(key),
        })
    }

    /// Whether whitespace was trimmed from around the key.
    pub fn was_trimmed(&self) -> bool {
        self.trimmed
    }

    /// The sentence to show the person, if their key was changed.
    pub fn notice(&self) -> Option<&'static str> {
        self.trimmed.then_some(Self::TRIMMED)
    }

    /// The key itself.
    pub(crate) fn secret(&self) -> &Secret {
        &self.secret
    }
}

/// Format characters that render as nothing.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrounding_whitespace_is_trimmed_and_said() {
        for raw in ["abc123\n", "  abc123\t", "\u{feff}abc123\r\n", "abc123"] {
            let key = PastedKey::parse(raw).unwrap();
            assert_eq!(key.secret().expose(), "abc123", "{raw:?}");
            assert_eq!(key.was_trimmed(), raw != "abc123", "{raw:?}");
        }
        assert_eq!(
            PastedKey::parse("abc\n").unwrap().notice(),
            Some(PastedKey::TRIMMED)
        );
        assert_eq!(PastedKey::parse("abc").unwrap().notice(), None);
    }

    #[test]
    fn control_and_invisible_characters_inside_refuse_the_key() {
        assert_eq!(PastedKey::parse(" \n\t").unwrap_err(), InvalidKey::Empty);
        assert_eq!(
            PastedKey::parse("ab\ncd").unwrap_err(),
            InvalidKey::ControlCharacter
        );
        assert_eq!(
            PastedKey::parse("ab\u{7f}cd").unwrap_err(),
            InvalidKey::ControlCharacter
        );
        assert_eq!(
            PastedKey::parse("ab\u{200b}cd").unwrap_err().to_string(),
            "the key contains an invisible character (U+200B); copy it again from its source"
        );
        // Spaces inside are the service's business (some keys have them).
        assert_eq!(
            PastedKey::parse("ab cd").unwrap().secret().expose(),
            "ab cd"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let key = PastedKey::parse("abc123-secret\n").unwrap();
        assert!(!format!("{key:?}").contains("abc123"));
    }
}
