//! Properties as Cedar: each is a `permit` whose scope and condition pick
//! the requests it is about, annotated with what it claims of them:
//!
//! ```cedar
//! @property("members-never-manage-the-team-page")
//! @says("A member is never allowed anything on the Team Integrations page")
//! @claim("never")
//! permit (principal, action in Switchboard::Action::"manageTeamIntegrations", resource)
//! when { principal.role == Switchboard::Role::"member" };
//! ```
//!
//! - `never`: no request it matches is allowed;
//! - `always`: every request it matches is allowed;
//! - `only`: every allowed request of its actions matches it (the condition
//!   holds of every allow).
//!
//! An assumption is a `forbid` annotated `@assumption("...")`: requests the
//! engine never sends (it says why), left out of every proof, so that a
//! counterexample is one the engine could meet.

use cedar_policy::{Effect, Policy, PolicyId, PolicySet};
use std::path::{Path, PathBuf};

/// What a property claims of the requests its policy matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// None is allowed.
    Never,
    /// Every one is allowed.
    Always,
    /// Every allowed request of its actions is among them.
    Only,
}

/// One property.
#[derive(Debug, Clone)]
pub struct Property {
    /// Its name (`@property`).
    pub name: String,
    /// What it says, for a person (`@says`).
    pub says: String,
    /// What it claims.
    pub claim: Claim,
    /// The requests it is about.
    pub matches: Policy,
}

/// The properties of a policy directory and the assumptions under them.
#[derive(Debug, Clone)]
pub struct Properties {
    /// In file order, then statement order.
    pub properties: Vec<Property>,
    /// The assumptions' forbids, each with its `@assumption` text.
    pub assumptions: Vec<(Policy, String)>,
}

/// A property file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", file.display())]
pub struct PropertyError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong.
    pub message: String,
}

impl Properties {
    /// Reads `<policies>/properties/*.cedar`; every fault at once.
    pub fn load(policies: &Path) -> Result<Self, Vec<PropertyError>> {
        let dir = policies.join("properties");
        let fault = |file: &Path, message: String| PropertyError {
            file: file.to_owned(),
            message,
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| vec![fault(&dir, format!("cannot read the directory: {e}"))])?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|path| path.extension().is_some_and(|x| x == "cedar"))
            .collect();
        files.sort();
        let (mut properties, mut assumptions, mut faults) = (Vec::new(), Vec::new(), Vec::new());
        let mut names = std::collections::HashSet::new();
        for file in files {
            let text = match std::fs::read_to_string(&file) {
                Ok(text) => text,
                Err(e) => {
                    faults.push(fault(&file, format!("cannot read it: {e}")));
                    continue;
                }
            };
            let set = match text.parse::<PolicySet>() {
                Ok(set) => set,
                Err(e) => {
                    faults.push(fault(&file, format!("not Cedar: {e}")));
                    continue;
                }
            };
            let mut statements: Vec<&Policy> = set.policies().collect();
            // `from_str` names the n-th statement `policy<n>`: keep file order.
            statements.sort_by_key(|p| {
                p.id()
                    .to_string()
                    .trim_start_matches("policy")
                    .parse::<usize>()
                    .unwrap_or(usize::MAX)
            });
            for policy in statements {
                match read(policy) {
                    Ok(Entry::Property(property)) if names.insert(property.name.clone()) => {
                        properties.push(*property)
                    }
                    Ok(Entry::Property(property)) => faults.push(fault(
                        &file,
                        format!("{}: another property has this name", property.name),
                    )),
                    Ok(Entry::Assumption(why)) => {
                        let id = PolicyId::new(format!("assumption{}", assumptions.len()));
                        assumptions.push((policy.new_id(id), why));
                    }
                    Err(message) => faults.push(fault(&file, message)),
                }
            }
        }
        if faults.is_empty() {
            Ok(Properties {
                properties,
                assumptions,
            })
        } else {
            Err(faults)
        }
    }
}

enum Entry {
    Property(Box<Property>),
    Assumption(String),
}

fn read(policy: &Policy) -> Result<Entry, String> {
    let annotation = |key: &str| policy.annotation(key).map(str::to_owned);
    if let Some(why) = annotation("assumption") {
        return match policy.effect() {
            Effect::Forbid => Ok(Entry::Assumption(why)),
            Effect::Permit => Err(format!(
                "assumption \"{why}\" must be a forbid: it names requests the engine never sends"
            )),
        };
    }
    let name = annotation("property")
        .ok_or_else(|| format!("{}: neither @property nor @assumption", policy.id()))?;
    let says = annotation("says").ok_or_else(|| format!("{name}: no @says"))?;
    let claim = match annotation("claim").as_deref() {
        Some("never") => Claim::Never,
        Some("always") => Claim::Always,
        Some("only") => Claim::Only,
        other => {
            return Err(format!(
                "{name}: @claim is {other:?}; it is \"never\", \"always\" or \"only\""
            ));
        }
    };
    if policy.effect() != Effect::Permit {
        return Err(format!(
            "{name}: a property is a permit (its scope and condition pick the requests)"
        ));
    }
    Ok(Entry::Property(Box::new(Property {
        name: name.clone(),
        says,
        claim,
        matches: policy.new_id(PolicyId::new(format!("property:{name}"))),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The faults of a properties directory holding `text`.
    fn faults(text: &str) -> Vec<String> {
        let dir = std::env::temp_dir().join(format!(
            "switchboard-properties-{}-{}",
            std::process::id(),
            text.len()
        ));
        let properties = dir.join("properties");
        std::fs::create_dir_all(&properties).unwrap_or_default();
        std::fs::write(properties.join("p.cedar"), text).unwrap_or_default();
        let found = Properties::load(&dir)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.message)
            .collect();
        let _ = std::fs::remove_dir_all(&dir);
        found
    }

    #[test]
    fn a_property_says_what_it_claims_and_an_assumption_forbids() {
        assert_eq!(
            faults("@property(\"p\")\n@says(\"s\")\npermit (principal, action, resource);"),
            ["p: @claim is None; it is \"never\", \"always\" or \"only\""]
        );
        assert_eq!(
            faults(
                "@property(\"p\")\n@says(\"s\")\n@claim(\"never\")\nforbid (principal, action, resource);"
            ),
            ["p: a property is a permit (its scope and condition pick the requests)"]
        );
        assert_eq!(
            faults("@assumption(\"a\")\npermit (principal, action, resource);"),
            ["assumption \"a\" must be a forbid: it names requests the engine never sends"]
        );
        assert_eq!(
            faults("permit (principal, action, resource);"),
            ["policy0: neither @property nor @assumption"]
        );
        assert!(
            faults("@property(\"p\")\n@says(\"s\")\n@claim(\"always\")\npermit (principal, action, resource);")
                .is_empty()
        );
    }
}
