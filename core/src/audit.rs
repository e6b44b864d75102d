//! The audit trail: every enable, disable, credential change, connect,
//! disconnect and denied attempt, with who, what, when and the outcome.
//! Records of a workspace form a hash chain, so an edited, removed or
//! reordered record is found by [`verify`].

use crate::model::{IntegrationId, Role, UserId, WorkspaceId};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash before a workspace's first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// It was allowed and done.
    Allowed,
    /// A policy denied it.
    Denied {
        /// What the denied person read (the forbid's `@reason`, filled in).
        reason: String,
        /// The `@id`s of the policies that decided it; empty when no policy
        /// permits it.
        policies: Vec<String>,
    },
    /// It was not denied, but failed (e.g. the service refused the credential).
    Failed {
        /// The error, as the engine reported it.
        message: String,
    },
}

impl Outcome {
    /// Which of the three it is, without the details.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Allowed => OutcomeKind::Allowed,
            Outcome::Denied { .. } => OutcomeKind::Denied,
            Outcome::Failed { .. } => OutcomeKind::Failed,
        }
    }
}

/// How an attempt ended, without the details (to filter by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// Allowed and done.
    Allowed,
    /// Denied by a policy.
    Denied,
    /// Not denied, but failed.
    Failed,
}

/// What happened, as the engine reports it; the store numbers and chains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Who acted; `(host)` for a change the host application made itself.
    pub actor: UserId,
    /// Their role at the time.
    pub role: Role,
    /// The operation, e.g. `enable`, `set_workspace_credential`, `connect`.
    pub operation: String,
    /// The integration concerned; `None` for a workspace-wide operation.
    pub integration: Option<IntegrationId>,
    /// How it ended.
    pub outcome: Outcome,
    /// A detail worth keeping (e.g. the mode), never a secret.
    pub detail: Option<String>,
}

/// One record of a workspace's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Record {
    /// The workspace whose trail it is in.
    pub workspace: WorkspaceId,
    /// 1, 2, 3, ... within the workspace.
    pub seq: u64,
    /// When it was recorded (Unix milliseconds).
    pub at_ms: u64,
    /// What happened; its fields sit at the top level of the record.
    #[serde(flatten)]
    pub entry: Entry,
    /// The previous record's `hash`; 64 zeros for the first record.
    pub prev_hash: String,
    /// SHA-256 of `prev_hash` and this record's other fields.
    pub hash: String,
}

/// The hashed part of a record: everything but the hash itself.
#[derive(Serialize)]
struct Hashed<'a> {
    workspace: &'a WorkspaceId,
    seq: u64,
    at_ms: u64,
    entry: &'a Entry,
    prev_hash: &'a str,
}

fn hash_of(
    workspace: &WorkspaceId,
    seq: u64,
    at_ms: u64,
    entry: &Entry,
    prev_hash: &str,
) -> String {
    let hashed = Hashed {
        workspace,
        seq,
        at_ms,
        entry,
        prev_hash,
    };
    // Plain structs serialise to JSON without failure, in field order.
    let bytes = serde_json::to_vec(&hashed).unwrap_or_default();
    hex::encode(Sha256::digest(
        [prev_hash.as_bytes(), b"\n", &bytes].concat(),
    ))
}

impl Record {
    /// The record that follows `prev` (seq, hash) in its workspace.
    pub fn chain(
        workspace: &WorkspaceId,
        prev: Option<(u64, &str)>,
        at_ms: u64,
        entry: Entry,
    ) -> Record {
        let (seq, prev_hash) = match prev {
            Some((seq, hash)) => (seq + 1, hash.to_owned()),
            None => (1, GENESIS.to_owned()),
        };
        let hash = hash_of(workspace, seq, at_ms, &entry, &prev_hash);
        Record {
            workspace: workspace.clone(),
            seq,
            at_ms,
            entry,
            prev_hash,
            hash,
        }
    }

    fn recomputed_hash(&self) -> String {
        hash_of(
            &self.workspace,
            self.seq,
            self.at_ms,
            &self.entry,
            &self.prev_hash,
        )
    }
}

/// Where a chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("workspace `{workspace}`: the audit chain breaks at record {seq}: {why}")]
pub struct Broken {
    /// The workspace whose chain breaks.
    pub workspace: WorkspaceId,
    /// The first record that does not verify.
    pub seq: u64,
    /// What is wrong with it.
    pub why: String,
}

/// Checks one workspace's records, in order; says how many verified.
pub fn verify(
    workspace: &WorkspaceId,
    records: impl IntoIterator<Item = Record>,
) -> Result<u64, Broken> {
    let mut expected_prev = GENESIS.to_owned();
    let mut count = 0;
    for record in records {
        let broken = |why: String| Broken {
            workspace: workspace.clone(),
            seq: record.seq,
            why,
        };
        if record.seq != count + 1 {
            return Err(broken(format!("expected record {}", count + 1)));
        }
        if record.prev_hash != expected_prev {
            return Err(broken("it does not follow the record before it".into()));
        }
        if record.recomputed_hash() != record.hash {
            return Err(broken("its content does not match its hash".into()));
        }
        expected_prev = record.hash;
        count += 1;
    }
    Ok(count)
}

/// Which records to list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Filter {
    /// Only records at or after this time (Unix milliseconds).
    pub from_ms: Option<u64>,
    /// Only records before this time (Unix milliseconds).
    pub to_ms: Option<u64>,
    /// Only records of this user.
    pub actor: Option<UserId>,
    /// Only records about this integration.
    pub integration: Option<IntegrationId>,
    /// Only records with this outcome.
    pub outcome: Option<OutcomeKind>,
}

impl Filter {
    /// Whether a record meets every condition set; an unset one matches any
    /// record.
    pub fn matches(&self, r: &Record) -> bool {
        self.from_ms.is_none_or(|from| r.at_ms >= from)
            && self.to_ms.is_none_or(|to| r.at_ms < to)
            && self.actor.as_ref().is_none_or(|a| *a == r.entry.actor)
            && self
                .integration
                .as_ref()
                .is_none_or(|i| Some(i) == r.entry.integration.as_ref())
            && self.outcome.is_none_or(|o| o == r.entry.outcome.kind())
    }
}

/// A page of records, newest first, and where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Page {
    /// The records, newest first.
    pub records: Vec<Record>,
    /// Pass as `before` to get the next (older) page.
    pub next_before: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(op: &str) -> Entry {
        Entry {
            actor: UserId::new("alice"),
            role: Role::Admin,
            operation: op.into(),
            integration: None,
            outcome: Outcome::Allowed,
            detail: None,
        }
    }

    fn chain_of(n: u64) -> Vec<Record> {
        let ws = WorkspaceId::new("acme");
        let mut out: Vec<Record> = Vec::new();
        for i in 0..n {
            let prev = out.last().map(|r| (r.seq, r.hash.as_str()));
            out.push(Record::chain(&ws, prev, 1000 + i, entry(&format!("op{i}"))));
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(&WorkspaceId::new("acme"), chain_of(5)), Ok(5));
    }

    #[test]
    fn an_edit_a_removal_and_a_swap_are_each_found() {
        let ws = WorkspaceId::new("acme");
        let mut edited = chain_of(5);
        edited[2].entry.operation = "something else".into();
        assert_eq!(verify(&ws, edited).unwrap_err().seq, 3);

        let mut removed = chain_of(5);
        removed.remove(1);
        assert_eq!(
            verify(&ws, removed).unwrap_err().to_string(),
            "workspace `acme`: the audit chain breaks at record 3: expected record 2"
        );

        let mut swapped = chain_of(5);
        swapped.swap(3, 4);
        assert_eq!(verify(&ws, swapped).unwrap_err().seq, 5);
    }
}
