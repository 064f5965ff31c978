//! The time post dates are compared with (scheduled and expiring posts). The system clock
//! in production; for tests, a clock that starts at a chosen instant and runs on from there
//! with tokio's clock, so a test can say "now is 2030-01-01" (`HERALD_NOW`), or pause and
//! advance time and see scheduled posts come due without waiting.

use chrono::{DateTime, FixedOffset, Utc};

/// Environment variable that sets the clock's starting instant (RFC 3339), for tests.
pub const NOW_VAR: &str = "HERALD_NOW";

#[derive(Debug, Clone, Copy)]
pub enum Clock {
    System,
    /// `at` when tokio's clock read `since`; runs on at tokio's rate.
    From {
        at: DateTime<FixedOffset>,
        since: tokio::time::Instant,
    },
}

impl Clock {
    /// The system clock, unless `HERALD_NOW` names a valid instant to start from.
    pub fn from_env() -> Clock {
        match std::env::var(NOW_VAR) {
            Ok(value) => match DateTime::parse_from_rfc3339(value.trim()) {
                Ok(at) => Clock::starting_at(at),
                Err(err) => {
                    tracing::warn!("{NOW_VAR}={value:?} is not an RFC 3339 time ({err}); using the system clock");
                    Clock::System
                }
            },
            Err(_) => Clock::System,
        }
    }

    /// A clock that reads `at` now and runs on with tokio's clock.
    pub fn starting_at(at: DateTime<FixedOffset>) -> Clock {
        Clock::From {
            at,
            since: tokio::time::Instant::now(),
        }
    }

    pub fn now(&self) -> DateTime<FixedOffset> {
        match self {
            Clock::System => Utc::now().fixed_offset(),
            Clock::From { at, since } => {
                let run = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
                *at + run
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_injected_clock_runs_on_with_tokio_time() {
        let at = DateTime::parse_from_rfc3339("2030-01-01T00:00:00Z").unwrap();
        let clock = Clock::starting_at(at);
        assert_eq!(clock.now(), at);
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        assert_eq!(clock.now(), at + chrono::Duration::seconds(90));
    }
}
