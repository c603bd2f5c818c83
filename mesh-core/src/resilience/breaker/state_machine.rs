//! The closed → open → half-open breaker of Hystrix and resilience4j.
//!
//! **Closed**: calls pass and their outcomes fill a sliding window (the
//! last N calls, or the calls of the last T). Once the window holds at
//! least `minimum_calls`, a failure rate or a slow-call rate at or above
//! its threshold opens the breaker.
//! **Open**: calls are rejected at once for `wait_in_open`.
//! **Half-open**: then `permitted_calls_in_half_open` trial calls pass
//! (others are rejected); when all have reported, the breaker closes if
//! their rates are under the thresholds and opens again otherwise.
//!
//! Semantics follow resilience4j's `CircuitBreaker`; the window of the
//! time-based variant is evaluated call by call (resilience4j aggregates
//! per second: the difference is at most one second of calls).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::config::ConfigError;

/// What the window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls.
    Count(u32),
    /// The calls of the last duration.
    Time(Duration),
}

/// A breaker's settings, validated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    /// Failure percentage (0–100] that opens the breaker.
    pub failure_rate_threshold: f64,
    /// Slow-call percentage (0–100] that opens the breaker.
    pub slow_call_rate_threshold: f64,
    /// A call at least this long is slow.
    pub slow_call_duration: Duration,
    /// The sliding window.
    pub window: Window,
    /// Calls the window needs before rates count.
    pub minimum_calls: u32,
    /// How long the breaker stays open.
    pub wait_in_open: Duration,
    /// Trial calls let through when half-open.
    pub permitted_calls_in_half_open: u32,
}

impl Default for BreakerConfig {
    /// resilience4j's defaults.
    fn default() -> Self {
        Self {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(60),
            window: Window::Count(100),
            minimum_calls: 100,
            wait_in_open: Duration::from_secs(60),
            permitted_calls_in_half_open: 10,
        }
    }
}

impl BreakerConfig {
    /// Checks every field; errors name it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let percent = |v: f64, field: &str| {
            if v > 0.0 && v <= 100.0 {
                Ok(())
            } else {
                Err(ConfigError::field(
                    field,
                    format!("{v} is not within (0, 100]"),
                ))
            }
        };
        percent(self.failure_rate_threshold, "failure_rate_threshold")?;
        percent(self.slow_call_rate_threshold, "slow_call_rate_threshold")?;
        let positive = |zero: bool, field: &str| {
            if zero {
                Err(ConfigError::field(field, "must be greater than zero"))
            } else {
                Ok(())
            }
        };
        positive(self.slow_call_duration.is_zero(), "slow_call_duration")?;
        positive(self.wait_in_open.is_zero(), "wait_in_open")?;
        positive(self.minimum_calls == 0, "minimum_calls")?;
        positive(
            self.permitted_calls_in_half_open == 0,
            "permitted_calls_in_half_open",
        )?;
        match self.window {
            Window::Count(0) => positive(true, "sliding_window_size"),
            Window::Time(d) => positive(d.is_zero(), "sliding_window_size"),
            Window::Count(_) => Ok(()),
        }
    }
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls are rejected until the instant.
    Open {
        /// When it turns half-open.
        until: Instant,
    },
    /// Trial calls pass.
    HalfOpen,
}

/// The breaker refused a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker open")]
pub struct Rejected;

/// Leave to make one call; report its outcome with
/// [`CircuitBreaker::record`]. A permit dropped without a report (the
/// caller gave up) counts as neither success nor failure, but frees its
/// half-open trial slot.
#[derive(Debug)]
#[must_use = "report the call's outcome with CircuitBreaker::record"]
pub struct CallPermit {
    generation: u64,
    started: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Call {
    at: Instant,
    failed: bool,
    slow: bool,
}

#[derive(Debug)]
struct Inner {
    state: BreakerState,
    calls: VecDeque<Call>,
    /// Bumped at every transition, so late reports of an earlier state
    /// are ignored.
    generation: u64,
    trials_started: u32,
}

/// A state-machine breaker (shared by the calls of one route).
#[derive(Debug)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    inner: Mutex<Inner>,
}

impl CircuitBreaker {
    /// A closed breaker; `config` must be valid.
    pub fn new(config: BreakerConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            inner: Mutex::new(Inner {
                state: BreakerState::Closed,
                calls: VecDeque::new(),
                generation: 0,
                trials_started: 0,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state at `now` (an open breaker whose wait is over reads as
    /// half-open).
    pub fn state(&self, now: Instant) -> BreakerState {
        let mut inner = self.lock();
        self.advance(&mut inner, now);
        inner.state
    }

    /// Asks to make a call at `now`.
    pub fn try_acquire(&self, now: Instant) -> Result<CallPermit, Rejected> {
        let mut inner = self.lock();
        self.advance(&mut inner, now);
        match inner.state {
            BreakerState::Open { .. } => Err(Rejected),
            BreakerState::HalfOpen
                if inner.trials_started >= self.config.permitted_calls_in_half_open =>
            {
                Err(Rejected)
            }
            BreakerState::HalfOpen => {
                inner.trials_started += 1;
                Ok(CallPermit {
                    generation: inner.generation,
                    started: now,
                })
            }
            BreakerState::Closed => Ok(CallPermit {
                generation: inner.generation,
                started: now,
            }),
        }
    }

    /// Reports the outcome of a call made under `permit`, ending at `now`.
    pub fn record(&self, permit: CallPermit, failed: bool, now: Instant) {
        let mut inner = self.lock();
        if permit.generation != inner.generation {
            return;
        }
        let slow = now.saturating_duration_since(permit.started) >= self.config.slow_call_duration;
        inner.calls.push_back(Call {
            at: now,
            failed,
            slow,
        });
        match inner.state {
            BreakerState::Closed => {
                self.trim(&mut inner, now);
                if inner.calls.len() >= self.config.minimum_calls as usize && self.tripped(&inner) {
                    self.open(&mut inner, now);
                }
            }
            BreakerState::HalfOpen => {
                if inner.calls.len() >= self.config.permitted_calls_in_half_open as usize {
                    if self.tripped(&inner) {
                        self.open(&mut inner, now);
                    } else {
                        Self::transition(&mut inner, BreakerState::Closed);
                    }
                }
            }
            BreakerState::Open { .. } => {}
        }
    }

    /// Failure and slow-call rates (percent) over the current window.
    pub fn rates(&self, now: Instant) -> (f64, f64) {
        let mut inner = self.lock();
        self.trim(&mut inner, now);
        Self::rates_of(&inner)
    }

    fn rates_of(inner: &Inner) -> (f64, f64) {
        let n = inner.calls.len().max(1) as f64;
        let failed = inner.calls.iter().filter(|c| c.failed).count() as f64;
        let slow = inner.calls.iter().filter(|c| c.slow).count() as f64;
        (100.0 * failed / n, 100.0 * slow / n)
    }

    fn tripped(&self, inner: &Inner) -> bool {
        let (failure, slow) = Self::rates_of(inner);
        failure >= self.config.failure_rate_threshold
            || slow >= self.config.slow_call_rate_threshold
    }

    fn trim(&self, inner: &mut Inner, now: Instant) {
        if inner.state != BreakerState::Closed {
            return;
        }
        match self.config.window {
            Window::Count(n) => {
                while inner.calls.len() > n as usize {
                    inner.calls.pop_front();
                }
            }
            Window::Time(span) => {
                while inner
                    .calls
                    .front()
                    .is_some_and(|c| now.saturating_duration_since(c.at) >= span)
                {
                    inner.calls.pop_front();
                }
            }
        }
    }

    fn open(&self, inner: &mut Inner, now: Instant) {
        Self::transition(
            inner,
            BreakerState::Open {
                until: now + self.config.wait_in_open,
            },
        );
    }

    fn advance(&self, inner: &mut Inner, now: Instant) {
        if let BreakerState::Open { until } = inner.state
            && now >= until
        {
            Self::transition(inner, BreakerState::HalfOpen);
        }
    }

    fn transition(inner: &mut Inner, to: BreakerState) {
        inner.state = to;
        inner.calls.clear();
        inner.generation += 1;
        inner.trials_started = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(window: Window) -> CircuitBreaker {
        CircuitBreaker::new(BreakerConfig {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration: Duration::from_secs(1),
            window,
            minimum_calls: 4,
            wait_in_open: Duration::from_secs(10),
            permitted_calls_in_half_open: 2,
        })
        .unwrap()
    }

    fn call(b: &CircuitBreaker, failed: bool, now: Instant) -> Result<(), Rejected> {
        let permit = b.try_acquire(now)?;
        b.record(permit, failed, now);
        Ok(())
    }

    #[test]
    fn stays_closed_until_the_minimum_number_of_calls() {
        let b = breaker(Window::Count(10));
        let t = Instant::now();
        for _ in 0..3 {
            call(&b, true, t).unwrap();
        }
        assert_eq!(b.state(t), BreakerState::Closed, "3 failures < minimum 4");
        call(&b, true, t).unwrap();
        assert_eq!(
            b.state(t),
            BreakerState::Open {
                until: t + Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn opens_at_the_failure_rate_threshold_and_rejects_while_open() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        for failed in [false, true, false, true] {
            call(&b, failed, t).unwrap();
        }
        assert!(
            matches!(b.state(t), BreakerState::Open { .. }),
            "50% >= 50%"
        );
        assert_eq!(call(&b, false, t + Duration::from_secs(9)), Err(Rejected));
    }

    #[test]
    fn a_rate_under_the_threshold_keeps_it_closed_as_the_window_slides() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        for failed in [true, false, false, false, true, false, false] {
            call(&b, failed, t).unwrap();
        }
        assert_eq!(b.state(t), BreakerState::Closed);
        assert_eq!(b.rates(t).0, 25.0);
    }

    #[test]
    fn half_open_lets_the_permitted_trials_through_then_closes_on_success() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        for _ in 0..4 {
            call(&b, true, t).unwrap();
        }
        let later = t + Duration::from_secs(10);
        assert_eq!(b.state(later), BreakerState::HalfOpen);
        let first = b.try_acquire(later).unwrap();
        let second = b.try_acquire(later).unwrap();
        assert_eq!(b.try_acquire(later).unwrap_err(), Rejected, "only 2 trials");
        b.record(first, false, later);
        b.record(second, false, later);
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn a_failing_trial_opens_it_again() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        for _ in 0..4 {
            call(&b, true, t).unwrap();
        }
        let later = t + Duration::from_secs(10);
        call(&b, true, later).unwrap();
        call(&b, false, later).unwrap();
        assert_eq!(
            b.state(later),
            BreakerState::Open {
                until: later + Duration::from_secs(10)
            }
        );
    }

    #[test]
    fn slow_calls_open_it() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        for _ in 0..4 {
            let p = b.try_acquire(t).unwrap();
            b.record(p, false, t + Duration::from_secs(2));
        }
        assert!(matches!(
            b.state(t + Duration::from_secs(2)),
            BreakerState::Open { .. }
        ));
    }

    #[test]
    fn the_time_window_forgets_old_calls() {
        let b = breaker(Window::Time(Duration::from_secs(5)));
        let t = Instant::now();
        for _ in 0..3 {
            call(&b, true, t).unwrap();
        }
        let later = t + Duration::from_secs(6);
        call(&b, true, later).unwrap();
        assert_eq!(
            b.state(later),
            BreakerState::Closed,
            "the 3 old failures left the window"
        );
    }

    #[test]
    fn reports_from_before_a_transition_are_ignored() {
        let b = breaker(Window::Count(4));
        let t = Instant::now();
        let stale = b.try_acquire(t).unwrap();
        for _ in 0..4 {
            call(&b, true, t).unwrap();
        }
        b.record(stale, false, t);
        assert!(matches!(b.state(t), BreakerState::Open { .. }));
    }

    #[test]
    fn invalid_settings_name_the_field() {
        let bad = |edit: fn(&mut BreakerConfig)| {
            let mut c = BreakerConfig::default();
            edit(&mut c);
            CircuitBreaker::new(c).unwrap_err().to_string()
        };
        assert!(bad(|c| c.failure_rate_threshold = 150.0).contains("failure_rate_threshold"));
        assert!(bad(|c| c.failure_rate_threshold = 0.0).contains("failure_rate_threshold"));
        assert!(bad(|c| c.wait_in_open = Duration::ZERO).contains("wait_in_open"));
        assert!(bad(|c| c.window = Window::Count(0)).contains("sliding_window_size"));
        assert!(bad(|c| c.minimum_calls = 0).contains("minimum_calls"));
    }
}
