//! A key as a person typed or pasted it, made fit to store.
//!
//! A key copied from a provider's page often brings a newline or spaces
//! with it; stored as is, it fails at the service and, worse, its escaped
//! echo (`key\n` as `key\\n`) slipped past the scrub. Surrounding
//! whitespace is trimmed, and the caller can tell the person so; a control
//! or invisible character inside the key refuses it.
//!
//! A credential of several fields (an email and an API token) is pasted
//! field by field, each checked the same way.

use crate::model::{Auth, CredentialField};
use crate::vault::Secret;

/// A key checked for storing. The engine's save operations take only this,
/// so no key reaches the vault unchecked.
#[derive(Debug)]
pub struct PastedKey {
    pasted: Pasted,
    trimmed: bool,
}

#[derive(Debug)]
enum Pasted {
    /// One key.
    Key(Secret),
    /// Each field of a credential, by name.
    Fields(Vec<(String, Secret)>),
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
    /// One field of a credential cannot be stored.
    #[error("{field}: {why}")]
    Field {
        /// The field's name.
        field: String,
        /// What is wrong with its value.
        why: Box<InvalidKey>,
    },
    /// Both a key and fields were given.
    #[error("give the key or its fields, not both")]
    KeyAndFields,
    /// The fields given are not the credential's.
    #[error("this credential has the fields {}; give each of them, and no other", .0.join(", "))]
    Fields(Vec<String>),
}

impl PastedKey {
    /// What the person is told when their key was trimmed.
    pub const TRIMMED: &'static str =
        "The spaces or line breaks around the key you pasted were removed.";

    /// Checks a pasted key: trims surrounding whitespace, refuses control
    /// and invisible characters inside.
    pub fn parse(raw: impl Into<String>) -> Result<Self, InvalidKey> {
        let (secret, trimmed) = checked(raw.into())?;
        Ok(PastedKey {
            pasted: Pasted::Key(secret),
            trimmed,
        })
    }

    /// Checks each pasted field of a credential as [`PastedKey::parse`]
    /// checks a key.
    pub fn fields(pairs: impl IntoIterator<Item = (String, String)>) -> Result<Self, InvalidKey> {
        let mut trimmed = false;
        let mut fields = Vec::new();
        for (field, raw) in pairs {
            let (secret, was_trimmed) = checked(raw).map_err(|why| InvalidKey::Field {
                field: field.clone(),
                why: Box::new(why),
            })?;
            trimmed |= was_trimmed;
            fields.push((field, secret));
        }
        Ok(PastedKey {
            pasted: Pasted::Fields(fields),
            trimmed,
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

    /// What to store for a mode that authenticates as `auth`: the key
    /// itself for a credential of one field, a JSON object of every
    /// field's value for several. The fields given must be the
    /// credential's, every one.
    pub fn secret_for(&self, auth: Option<&Auth>) -> Result<Secret, InvalidKey> {
        let fields: &[CredentialField] = match auth {
            Some(Auth::ApiKey { fields, .. }) => fields,
            _ => &[],
        };
        let expected = || InvalidKey::Fields(fields.iter().map(|f| f.name.clone()).collect());
        match (&self.pasted, fields) {
            (Pasted::Key(secret), [] | [_]) => Ok(secret.clone()),
            (Pasted::Fields(given), [field]) => match given.as_slice() {
                [(name, secret)] if *name == field.name => Ok(secret.clone()),
                _ => Err(expected()),
            },
            (Pasted::Fields(given), fields) if fields.len() > 1 => {
                let mut object = serde_json::Map::new();
                for (name, secret) in given {
                    if !fields.iter().any(|f| f.name == *name) {
                        return Err(expected());
                    }
                    object.insert(name.clone(), secret.expose().into());
                }
                if object.len() != fields.len() {
                    return Err(expected());
                }
                Ok(Secret::new(serde_json::Value::Object(object).to_string()))
            }
            _ => Err(expected()),
        }
    }

    /// Every value pasted, to scrub from what is kept elsewhere.
    pub fn values(&self) -> Vec<Secret> {
        match &self.pasted {
            Pasted::Key(secret) => vec![secret.clone()],
            Pasted::Fields(fields) => fields.iter().map(|(_, s)| s.clone()).collect(),
        }
    }

    /// The key itself, as pasted in one piece.
    #[cfg(test)]
    fn secret(&self) -> &Secret {
        match &self.pasted {
            Pasted::Key(secret) => secret,
            Pasted::Fields(fields) => &fields[0].1,
        }
    }
}

/// A pasted value trimmed and checked, and whether it was trimmed.
fn checked(raw: String) -> Result<(Secret, bool), InvalidKey> {
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
    Ok((Secret::new(key), key.len() != text.len()))
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
