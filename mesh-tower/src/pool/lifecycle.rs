//! One connection's life: how many requests it carries, how many it has
//! served, since when it is idle, and whether it may take more.
//!
//! The pool hands out requests, the leases give them back, and the task
//! driving the connection closes it: three parties that never share a
//! lock. They agree through the `active` count alone: a lease begins
//! only while the count is not [`CLOSED`], and the driver closes only by
//! swapping an idle count of zero for [`CLOSED`], so a connection is never
//! closed under a request and never handed a request once closed.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_util::task::AtomicWaker;
use mesh_core::config::ConnectionPool;
use tokio::time::Instant;

/// The `active` count of a closed connection.
const CLOSED: u32 = u32::MAX;

/// The shared state of one connection.
#[derive(Debug)]
pub(super) struct Lifecycle {
    /// Requests in flight on it (HTTP/1.1: at most one), or [`CLOSED`].
    active: AtomicU32,
    /// Requests it has carried.
    served: AtomicU32,
    /// When it last became idle, in nanoseconds after `opened`.
    idle_since: AtomicU64,
    /// Set once it may take no more requests: it closes when they end.
    retired: AtomicBool,
    /// Wakes the driver when a retired connection's last request ends
    /// (the driver lends its waker once; a `Notify`'s waiter would take
    /// its lock on each of the driver's polls).
    drained: AtomicWaker,
    opened: Instant,
}

impl Lifecycle {
    pub(super) fn new() -> Self {
        Self {
            active: AtomicU32::new(0),
            served: AtomicU32::new(0),
            idle_since: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            drained: AtomicWaker::new(),
            opened: Instant::now(),
        }
    }

    /// Takes one more request, if the connection is open, not retired,
    /// below `max_active` requests at once and below the pool's
    /// requests-per-connection limit (reaching it retires the connection
    /// after this request).
    pub(super) fn try_begin(&self, max_active: u32, pool: &ConnectionPool) -> bool {
        if self.retired.load(Ordering::Acquire) {
            return false;
        }
        let taken = self
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n != CLOSED && n < max_active).then(|| n + 1)
            });
        if taken.is_err() {
            return false;
        }
        if let Some(max) = pool.max_requests_per_connection {
            let served = self.served.fetch_add(1, Ordering::AcqRel) + 1;
            if served > max.get() {
                self.retire();
                self.end();
                return false;
            }
            if served == max.get() {
                self.retire();
            }
        }
        true
    }

    /// One request ended.
    pub(super) fn end(&self) {
        if self.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            let idle = self.opened.elapsed().as_nanos();
            self.idle_since
                .store(u64::try_from(idle).unwrap_or(u64::MAX), Ordering::Release);
            if self.retired.load(Ordering::Acquire) {
                self.drained.wake();
            }
        }
    }

    /// No new request may start on it.
    pub(super) fn retire(&self) {
        self.retired.store(true, Ordering::Release);
    }

    /// Whether it is retired with no request in flight: the driver may
    /// close it.
    fn is_drained(&self) -> bool {
        self.retired.load(Ordering::Acquire) && self.active.load(Ordering::Acquire) == 0
    }

    /// Whether it may take requests (it may still be full).
    pub(super) fn is_usable(&self) -> bool {
        !self.retired.load(Ordering::Acquire) && self.active.load(Ordering::Acquire) != CLOSED
    }

    /// Closes it if no request is in flight.
    fn close_if_idle(&self) -> bool {
        self.active
            .compare_exchange(0, CLOSED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// Marks it closed for good (its transport ended).
    pub(super) fn closed(&self) {
        self.retire();
        self.active.store(CLOSED, Ordering::Release);
    }

    /// When the driver should next look at the connection's timers, or
    /// `None` when no timer applies.
    fn next_check(&self, timers: &Timers, now: Instant) -> Option<Instant> {
        let lifetime = timers.max_duration.map(|d| self.opened + d);
        let idle = timers.idle.map(|timeout| {
            if self.active.load(Ordering::Acquire) == 0 {
                let since = Duration::from_nanos(self.idle_since.load(Ordering::Acquire));
                self.opened + since + timeout
            } else {
                now + timeout
            }
        });
        match (lifetime, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Applies the timers at `now`: retires a connection past its
    /// lifetime, closes one idle too long or retired and idle. Returns
    /// whether it is closed.
    fn check(&self, timers: &Timers, now: Instant) -> bool {
        if timers
            .max_duration
            .is_some_and(|d| now.duration_since(self.opened) >= d)
        {
            self.retire();
        }
        let idle_expired = timers.idle.is_some_and(|timeout| {
            let since = Duration::from_nanos(self.idle_since.load(Ordering::Acquire));
            now.duration_since(self.opened + since) >= timeout
        });
        (self.retired.load(Ordering::Acquire) || idle_expired) && self.close_if_idle()
    }
}

/// The timers that end a connection.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timers {
    pub(super) idle: Option<Duration>,
    pub(super) max_duration: Option<Duration>,
}

impl From<&ConnectionPool> for Timers {
    fn from(pool: &ConnectionPool) -> Self {
        Self {
            idle: pool.idle_timeout,
            max_duration: pool.max_connection_duration,
        }
    }
}

/// Drives `connection` until it ends, or until its timers or retirement
/// close it while idle (dropping the connection closes the socket).
pub(super) async fn drive<F: Future>(connection: F, life: &Lifecycle, timers: Timers) {
    let mut connection = pin!(connection);
    loop {
        let now = Instant::now();
        if life.check(&timers, now) {
            return;
        }
        let mut timer = pin!(life.next_check(&timers, now).map(tokio::time::sleep_until));
        // The waker the drain signal and the timer hold: lent again only
        // when it changes, not on each of the connection's many polls.
        let mut lent: Option<Waker> = None;
        let ended = poll_fn(|cx| {
            // The connection first: it is what wakes this task on almost
            // every poll.
            if connection.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            if !lent.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                life.drained.register(cx.waker());
                if let Some(timer) = timer.as_mut().as_pin_mut()
                    && timer.poll(cx).is_ready()
                {
                    return Poll::Ready(false);
                }
                lent = Some(cx.waker().clone());
            }
            let timer_fired = timer.as_ref().as_pin_ref().is_some_and(|t| t.is_elapsed());
            if life.is_drained() || timer_fired {
                return Poll::Ready(false);
            }
            Poll::Pending
        })
        .await;
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn pool(max_requests: Option<u32>) -> ConnectionPool {
        ConnectionPool {
            max_requests_per_connection: max_requests.and_then(NonZeroU32::new),
            ..Default::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_takes_requests_up_to_its_concurrency() {
        let life = Lifecycle::new();
        let pool = pool(None);
        assert!(life.try_begin(2, &pool));
        assert!(life.try_begin(2, &pool));
        assert!(!life.try_begin(2, &pool));
        life.end();
        assert!(life.try_begin(2, &pool));
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_request_a_connection_may_serve_retires_it() {
        let life = Lifecycle::new();
        let pool = pool(Some(2));
        assert!(life.try_begin(1, &pool));
        life.end();
        assert!(life.try_begin(1, &pool));
        assert!(!life.is_usable());
        life.end();
        assert!(!life.try_begin(1, &pool));
        // Retired and idle: the next check closes it.
        let timers = Timers::from(&pool);
        assert!(life.check(&timers, Instant::now()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_connection_closes_after_its_idle_timeout_and_never_under_a_request() {
        let life = Lifecycle::new();
        let timers = Timers {
            idle: Some(Duration::from_secs(10)),
            max_duration: None,
        };
        let pool = pool(None);
        assert!(life.try_begin(1, &pool));
        tokio::time::advance(Duration::from_secs(30)).await;
        // Busy: not closed, whatever the time.
        assert!(!life.check(&timers, Instant::now()));
        life.end();
        tokio::time::advance(Duration::from_secs(9)).await;
        assert!(!life.check(&timers, Instant::now()));
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(life.check(&timers, Instant::now()));
        assert!(!life.try_begin(1, &pool), "closed connections take nothing");
    }

    #[tokio::test(start_paused = true)]
    async fn a_connection_past_its_lifetime_retires_and_closes_when_its_request_ends() {
        let life = std::sync::Arc::new(Lifecycle::new());
        let timers = Timers {
            idle: None,
            max_duration: Some(Duration::from_secs(60)),
        };
        let pool = pool(None);
        assert!(life.try_begin(4, &pool));
        let driver = tokio::spawn({
            let life = life.clone();
            async move { drive(std::future::pending::<()>(), &life, timers).await }
        });
        tokio::time::advance(Duration::from_secs(61)).await;
        tokio::task::yield_now().await;
        assert!(!life.is_usable(), "retired at its lifetime");
        assert!(!driver.is_finished(), "still carrying a request");
        life.end();
        tokio::time::timeout(Duration::from_secs(1), driver)
            .await
            .expect("the driver closes the drained connection")
            .expect("driver task");
    }
}
