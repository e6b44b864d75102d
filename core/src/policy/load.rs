//! Reading a policy directory: the schema, every `.cedar` file, strict
//! validation. Every fault is reported with its file, line and column.

use cedar_policy::{Entity, Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use miette::Diagnostic;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// The schema's file name in a policy directory.
pub const SCHEMA_FILE: &str = "schema.cedarschema";

/// One thing wrong with a policy directory, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyFault {
    /// The file at fault (or the directory, when it cannot be read).
    pub file: PathBuf,
    /// 1-based line; 0 when the fault concerns the whole file (e.g. it cannot
    /// be read).
    pub line: usize,
    /// 1-based column, in characters; 0 with line 0.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

/// A policy set refused as a whole: every fault found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the policies in {dir} were refused:\n{}", faults.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n"))]
pub struct PolicyLoadError {
    /// The policy directory that was refused.
    pub dir: PathBuf,
    /// Every fault found.
    pub faults: Vec<PolicyFault>,
}

/// A validated schema and policy set, policies named by their `@id`.
pub struct PolicyBundle {
    /// The validated Cedar schema (`schema.cedarschema`).
    pub schema: Schema,
    /// Every policy of the directory's `.cedar` files.
    pub policies: PolicySet,
    /// The schema's action entities by id, with their groups: a request
    /// carries its own, so `action in` a group holds.
    pub actions: HashMap<String, Entity>,
    /// The policies that can apply to each action, which is what a request
    /// is decided against.
    pub slices: super::slices::PolicySlices,
    /// Each forbid's `@reason`, read once (reading an annotation parses its
    /// key).
    pub reasons: HashMap<PolicyId, String>,
    /// Where each policy stands in the set: files by name, then statements
    /// in order. Of several policies that decide a denial, the first gives
    /// the reason, so the same request always reads the same one (the
    /// shipped files put plan and workspace rules, then roles, then modes).
    pub precedence: HashMap<PolicyId, (usize, usize)>,
    /// Recent requests' entities, and what the steady policies said, under
    /// this set.
    pub kept: super::request::KeptAnswers,
    /// Which file each policy came from.
    pub files: HashMap<PolicyId, PathBuf>,
    /// SHA-256 over the files read, to notice changes.
    pub fingerprint: [u8; 32],
}

impl PolicyBundle {
    /// The policies a request for the action `id` is decided against: those
    /// whose scope can include it; all of them for an action the schema does
    /// not declare (the engine asks about none: see `check_conformance`).
    pub fn policies_for(&self, id: &str) -> &PolicySet {
        self.slices
            .for_action(id)
            .map_or(&self.policies, |s| &s.all)
    }
}

/// The files of a policy directory and their text.
struct Sources {
    schema: (PathBuf, String),
    policies: Vec<(PathBuf, String)>,
}

fn read_sources(dir: &Path) -> Result<Sources, PolicyFault> {
    let whole = |file: &Path, message: String| PolicyFault {
        file: file.to_owned(),
        line: 0,
        column: 0,
        message,
    };
    let schema_path = dir.join(SCHEMA_FILE);
    let schema = std::fs::read_to_string(&schema_path)
        .map_err(|e| whole(&schema_path, format!("cannot read the schema: {e}")))?;
    let entries = std::fs::read_dir(dir)
        .map_err(|e| whole(dir, format!("cannot read the directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "cedar"))
        .collect();
    files.sort();
    let mut policies = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .map_err(|e| whole(&file, format!("cannot read it: {e}")))?;
        policies.push((file, text));
    }
    Ok(Sources {
        schema: (schema_path, schema),
        policies,
    })
}

/// The SHA-256 of a directory's policy files, names and contents.
pub fn fingerprint(dir: &Path) -> Option<[u8; 32]> {
    read_sources(dir).ok().map(|s| digest(&s))
}

fn digest(sources: &Sources) -> [u8; 32] {
    let mut hash = Sha256::new();
    for (path, text) in std::iter::once(&sources.schema).chain(&sources.policies) {
        hash.update(
            path.file_name()
                .map(|n| n.as_encoded_bytes())
                .unwrap_or_default(),
        );
        hash.update((text.len() as u64).to_be_bytes());
        hash.update(text.as_bytes());
    }
    hash.finalize().into()
}

/// Loads and strictly validates a policy directory; warnings count as faults.
pub fn load(dir: &Path) -> Result<PolicyBundle, PolicyLoadError> {
    load_keeping(dir, crate::kept::DEFAULT_CAPACITY)
}

/// [`load`], keeping up to `kept` recent answers of each kind under the set.
pub(super) fn load_keeping(dir: &Path, kept: usize) -> Result<PolicyBundle, PolicyLoadError> {
    let refuse = |faults| PolicyLoadError {
        dir: dir.to_owned(),
        faults,
    };
    let sources = read_sources(dir).map_err(|f| refuse(vec![f]))?;
    let fingerprint = digest(&sources);
    let (schema_path, schema_text) = &sources.schema;
    let schema = match Schema::from_cedarschema_str(schema_text) {
        Ok((schema, warnings)) => {
            let faults: Vec<_> = warnings
                .map(|w| fault(schema_path, schema_text, &w))
                .collect();
            if !faults.is_empty() {
                return Err(refuse(faults));
            }
            schema
        }
        Err(e) => return Err(refuse(vec![fault(schema_path, schema_text, &e)])),
    };

    let mut faults = Vec::new();
    let mut policies = PolicySet::new();
    let mut files = HashMap::new();
    let mut texts = HashMap::new();
    let mut precedence = HashMap::new();
    for (file_index, (file, text)) in sources.policies.iter().enumerate() {
        let parsed = match text.parse::<PolicySet>() {
            Ok(set) => set,
            Err(errors) => {
                faults.extend(errors.iter().map(|e| fault(file, text, e)));
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            faults.push(PolicyFault {
                file: file.clone(),
                line: 1,
                column: 1,
                message: "templates are not supported here; write static policies".into(),
            });
        }
        let starts = statement_starts(text);
        for policy in parsed.policies() {
            // `from_str` names the n-th statement `policy<n>`.
            let statement = policy
                .id()
                .to_string()
                .strip_prefix("policy")
                .and_then(|n| n.parse::<usize>().ok());
            let start = statement.and_then(|n| starts.get(n).copied());
            let position = start.map(|o| line_column(text, o)).unwrap_or((1, 1));
            match named(policy, file, position, &files) {
                Ok(policy) => {
                    let place = (file_index, statement.unwrap_or(usize::MAX));
                    precedence.insert(policy.id().clone(), place);
                    files.insert(policy.id().clone(), file.clone());
                    texts.insert(policy.id().clone(), text.as_str());
                    if let Err(e) = policies.add(policy) {
                        faults.push(PolicyFault {
                            file: file.clone(),
                            line: 1,
                            column: 1,
                            message: e.to_string(),
                        });
                    }
                }
                Err(f) => faults.push(f),
            }
        }
    }
    if !faults.is_empty() {
        return Err(refuse(faults));
    }

    let result = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
    let located = |id: &PolicyId, d: &dyn Diagnostic| match (files.get(id), texts.get(id)) {
        (Some(file), Some(text)) => fault(file, text, d),
        _ => PolicyFault {
            file: dir.to_owned(),
            line: 0,
            column: 0,
            message: d.to_string(),
        },
    };
    faults.extend(
        result
            .validation_errors()
            .map(|e| located(e.policy_id(), e)),
    );
    faults.extend(
        result
            .validation_warnings()
            .map(|w| located(w.policy_id(), w)),
    );
    if !faults.is_empty() {
        return Err(refuse(faults));
    }
    let schema_fault = |message: String| {
        refuse(vec![PolicyFault {
            file: schema_path.clone(),
            line: 1,
            column: 1,
            message,
        }])
    };
    super::request::check_conformance(&schema).map_err(|e| schema_fault(e.to_string()))?;
    let actions = schema
        .action_entities()
        .map_err(|e| schema_fault(e.to_string()))?
        .iter()
        .map(|action| (action.uid().id().unescaped().to_owned(), action.clone()))
        .collect();
    let slices = super::slices::PolicySlices::new(&policies, &actions)
        .map_err(|e| schema_fault(e.to_string()))?;
    let reasons = policies
        .policies()
        .filter_map(|p| Some((p.id().clone(), p.annotation("reason")?.to_owned())))
        .collect();
    Ok(PolicyBundle {
        schema,
        policies,
        actions,
        slices,
        reasons,
        precedence,
        kept: super::request::KeptAnswers::new(kept),
        files,
        fingerprint,
    })
}

/// Renames a policy by its `@id`, as the Cedar CLI does; requires an `@id`
/// and, on a `forbid`, a `@reason` (the text a denied person reads).
fn named(
    policy: &Policy,
    file: &Path,
    (line, column): (usize, usize),
    taken: &HashMap<PolicyId, PathBuf>,
) -> Result<Policy, PolicyFault> {
    let at = |message: String| PolicyFault {
        file: file.to_owned(),
        line,
        column,
        message,
    };
    let Some(id) = policy.annotation("id") else {
        return Err(at("every policy needs an @id(\"...\") annotation".into()));
    };
    let id = PolicyId::new(id);
    if let Some(other) = taken.get(&id) {
        return Err(at(format!(
            "@id(\"{id}\") is already used in {}",
            other.display()
        )));
    }
    if policy.effect() == cedar_policy::Effect::Forbid
        && policy
            .annotation("reason")
            .is_none_or(|r| r.trim().is_empty())
    {
        return Err(at(format!(
            "forbid `{id}` needs a @reason(\"...\"): it is what a denied person reads"
        )));
    }
    Ok(policy.new_id(id))
}

fn fault(file: &Path, text: &str, diagnostic: &dyn Diagnostic) -> PolicyFault {
    let offset = diagnostic
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    let (line, column) = offset.map(|o| line_column(text, o)).unwrap_or((1, 1));
    let mut message = diagnostic.to_string();
    if let Some(help) = diagnostic.help() {
        message.push_str(&format!(" ({help})"));
    }
    PolicyFault {
        file: file.to_owned(),
        line,
        column,
        message,
    }
}

/// Byte offsets where each top-level statement of a policy file starts
/// (outside comments and strings, after the previous top-level `;`).
fn statement_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut in_comment, mut expecting) =
        (0i32, false, false, false, true);
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if in_comment {
            in_comment = c != '\n';
        } else if in_string {
            (escaped, in_string) = (c == '\\' && !escaped, c != '"' || escaped);
        } else if c == '/' && chars.peek().is_some_and(|&(_, n)| n == '/') {
            in_comment = true;
        } else if !c.is_whitespace() {
            if expecting {
                starts.push(i);
                expecting = false;
            }
            match c {
                '"' => in_string = true,
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => depth -= 1,
                ';' if depth == 0 => expecting = true,
                _ => {}
            }
        }
    }
    starts
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}
