//! Fair shares of the engine: how many calls one member, and one
//! workspace, may have running at once. A call beyond either is refused at
//! once rather than queued, so one member's slow calls never hold up the
//! rest of the workspace, nor one workspace the others.

use crate::model::Actor;
use crate::{Error, Result};
use std::collections::HashMap;
use std::sync::Mutex;

/// How many calls may run at once, per member and per workspace.
#[derive(Debug, Clone, Copy)]
pub struct CallShares {
    /// Calls one member may have running at once.
    pub per_member: usize,
    /// Calls one workspace may have running at once.
    pub per_workspace: usize,
}

impl Default for CallShares {
    fn default() -> Self {
        CallShares {
            per_member: 8,
            per_workspace: 32,
        }
    }
}

/// The calls running now, by workspace and by member.
pub(super) struct Running {
    shares: CallShares,
    /// (workspace, member or `None` for the workspace's total) → calls.
    counts: Mutex<HashMap<(String, Option<String>), usize>>,
}

/// A running call's place in the counts, given back when dropped.
pub(super) struct Turn<'a> {
    running: &'a Running,
    keys: [(String, Option<String>); 2],
}

impl Running {
    pub(super) fn new(shares: CallShares) -> Self {
        Running {
            shares,
            counts: Mutex::default(),
        }
    }

    /// A turn for `actor`'s call, or why it must wait.
    pub(super) fn enter(&self, actor: &Actor) -> Result<Turn<'_>> {
        let workspace = actor.workspace.to_string();
        let member = (workspace.clone(), Some(actor.user.to_string()));
        let whole = (workspace, None);
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let of = |key: &(String, Option<String>)| counts.get(key).copied().unwrap_or(0);
        if of(&member) >= self.shares.per_member {
            return Err(Error::Busy(format!(
                "you already have {} running; try again when one finishes",
                calls(self.shares.per_member)
            )));
        }
        if of(&whole) >= self.shares.per_workspace {
            return Err(Error::Busy(format!(
                "this workspace already has {} running; try again when one finishes",
                calls(self.shares.per_workspace)
            )));
        }
        for key in [&member, &whole] {
            *counts.entry(key.clone()).or_default() += 1;
        }
        Ok(Turn {
            running: self,
            keys: [member, whole],
        })
    }
}

/// "1 call", "8 calls".
fn calls(count: usize) -> String {
    match count {
        1 => "1 call".to_owned(),
        n => format!("{n} calls"),
    }
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut counts = self
            .running
            .counts
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            if let Some(count) = counts.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(key);
                }
            }
        }
    }
}
