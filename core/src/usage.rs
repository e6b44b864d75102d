//! Usage metering: calls and credits per workspace, integration,
//! member and day. Counted in memory on the hot path and written to the
//! store in one transaction at least every second and on shutdown, so a
//! crash loses at most the last second of counters and never a state change.

use crate::model::{IntegrationId, UserId, WorkspaceId};
use std::collections::HashMap;
use std::sync::Mutex;

pub const DAY_MS: u64 = 86_400_000;

/// One counter: a member's use of an integration on one day (UTC).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub workspace: WorkspaceId,
    pub integration: IntegrationId,
    pub user: UserId,
    /// Days since the Unix epoch.
    pub day: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tally {
    pub calls: u64,
    pub credits: u64,
}

impl Tally {
    /// Saturating: a counter read back from a damaged file must not panic.
    pub fn add(&mut self, other: Tally) {
        self.calls = self.calls.saturating_add(other.calls);
        self.credits = self.credits.saturating_add(other.credits);
    }
}

/// Counters not yet written to the store.
#[derive(Default)]
pub struct Meter {
    pending: Mutex<HashMap<Key, Tally>>,
}

impl Meter {
    fn pending(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Tally>> {
        // A counter map stays consistent even if a holder panicked.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn record(&self, key: Key, credits: u64) {
        self.pending()
            .entry(key)
            .or_default()
            .add(Tally { calls: 1, credits });
    }

    /// Takes every pending counter, to be written.
    pub fn drain(&self) -> HashMap<Key, Tally> {
        std::mem::take(&mut *self.pending())
    }

    /// Puts counters back after a failed write.
    pub fn restore(&self, counters: HashMap<Key, Tally>) {
        let mut pending = self.pending();
        for (key, tally) in counters {
            pending.entry(key).or_default().add(tally);
        }
    }

    /// Credits not yet written for a workspace in the month containing `day`.
    pub fn pending_credits(&self, workspace: &WorkspaceId, month: u64) -> u64 {
        self.pending()
            .iter()
            .filter(|(k, _)| k.workspace == *workspace && month_of_day(k.day) == month)
            .map(|(_, t)| t.credits)
            .sum()
    }
}

/// Months since January 1970 (UTC) of a day since the epoch: the period of
/// a workspace's credit limit.
pub fn month_of_day(day: u64) -> u64 {
    let (year, month) = civil_year_month(day as i64);
    (year - 1970) as u64 * 12 + (month - 1) as u64
}

/// Year and month of a day since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_year_month(days: i64) -> (i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_follow_the_calendar() {
        assert_eq!(month_of_day(0), 0); // 1970-01-01
        assert_eq!(month_of_day(30), 0); // 1970-01-31
        assert_eq!(month_of_day(31), 1); // 1970-02-01
        assert_eq!(month_of_day(20_784), 56 * 12 + 10); // 2026-11-27
        assert_eq!(month_of_day(20_788), 56 * 12 + 11); // 2026-12-01
    }

    #[test]
    fn pending_credits_count_one_workspace_and_month() {
        let meter = Meter::default();
        let key = |ws: &str, day| Key {
            workspace: WorkspaceId::new(ws),
            integration: IntegrationId::new("semrush"),
            user: UserId::new("bob"),
            day,
        };
        meter.record(key("acme", 20_784), 4);
        meter.record(key("acme", 20_784), 1);
        meter.record(key("acme", 20_788), 7);
        meter.record(key("globex", 20_784), 9);
        assert_eq!(
            meter.pending_credits(&WorkspaceId::new("acme"), month_of_day(20_784)),
            5
        );
        let drained = meter.drain();
        assert_eq!(
            drained[&key("acme", 20_784)],
            Tally {
                calls: 2,
                credits: 5
            }
        );
        assert_eq!(
            meter.pending_credits(&WorkspaceId::new("acme"), month_of_day(20_784)),
            0
        );
    }
}
