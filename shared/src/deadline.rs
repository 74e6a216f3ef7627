//! The time an invocation has: Lambda's deadline for the functions, a fixed budget from now
//! for local runs. Everything that may wait — a claim another invocation holds, a request to a
//! slow service — is bounded by it, so a function always answers before Lambda stops it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};

/// The budget when no deadline is known: the functions' timeout in the templates.
pub const UNKNOWN_DEADLINE_BUDGET: Duration = Duration::from_secs(30);

/// 2001-09-09 in epoch milliseconds: any deadline Lambda sends is later.
const EPOCH_MILLIS_2001: u64 = 1_000_000_000_000;

/// When the current invocation must have answered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    wall: DateTime<Utc>,
}

impl Deadline {
    /// Lambda's deadline (`Context::deadline`: epoch milliseconds). Outside Lambda: 0 (a
    /// context built by hand) means [`UNKNOWN_DEADLINE_BUDGET`] from now, and a value too small
    /// to be an epoch time (`cargo lambda watch` sends its timeout, `600000`) is read as the
    /// milliseconds left.
    pub fn from_epoch_millis(millis: u64) -> Self {
        if millis == 0 {
            return Self::after(UNKNOWN_DEADLINE_BUDGET);
        }
        if millis < EPOCH_MILLIS_2001 {
            return Self::after(Duration::from_millis(millis));
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let remaining = Duration::from_millis(millis).saturating_sub(now);
        Self::after(remaining)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        let wall = chrono::Duration::from_std(budget)
            .ok()
            .and_then(|budget| Utc::now().checked_add_signed(budget))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Self { at: Instant::now() + budget, wall }
    }

    /// The time left (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// The time left, less `reserve` kept back for clean-up.
    pub fn remaining_less(&self, reserve: Duration) -> Duration {
        self.remaining().saturating_sub(reserve)
    }

    /// The deadline on the wall clock.
    pub fn wall_clock(&self) -> DateTime<Utc> {
        self.wall
    }

    /// An earlier deadline: this one less `reserve`.
    pub fn less(&self, reserve: Duration) -> Self {
        let wall = chrono::Duration::from_std(reserve)
            .ok()
            .and_then(|reserve| self.wall.checked_sub_signed(reserve))
            .unwrap_or(self.wall);
        Self { at: self.at.checked_sub(reserve).unwrap_or_else(Instant::now), wall }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn given_lambdas_deadline_then_the_time_left_is_counted_from_now() {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).expect("after 1970");
        let deadline = Deadline::from_epoch_millis(now_ms + 30_000);
        assert!(deadline.remaining() > Duration::from_secs(29));
        assert!(deadline.remaining() <= Duration::from_secs(30));
        assert_eq!(
            deadline.less(Duration::from_secs(5)).remaining_less(Duration::ZERO).as_secs(),
            24
        );
        let past = Deadline::from_epoch_millis(now_ms - 1_000);
        assert_eq!(past.remaining(), Duration::ZERO);
    }

    #[test]
    fn given_no_deadline_or_an_emulators_timeout_then_the_time_left_is_a_budget() {
        let unknown = Deadline::from_epoch_millis(0).remaining();
        assert!(unknown > UNKNOWN_DEADLINE_BUDGET - Duration::from_secs(1), "{unknown:?}");
        let emulator = Deadline::from_epoch_millis(600_000).remaining();
        assert!(emulator > Duration::from_secs(599) && emulator <= Duration::from_secs(600));
    }
}
