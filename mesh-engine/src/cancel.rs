//! Cancelling a call from another thread.
//!
//! A binding's caller may give up on a request while the engine works on
//! it (a Go context cancelled, a Python task cancelled): the binding
//! fires the call's [`Cancel`] from whatever thread notices, and the call
//! returns an [`ErrorKind::Cancelled`](crate::ErrorKind) error promptly,
//! dropping the request's future (its connection lease, permits and
//! in-flight counts go with it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// A one-shot cancellation signal, cheap to clone and to fire from any
/// thread.
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<Signal>);

#[derive(Debug, Default)]
struct Signal {
    fired: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// A signal not fired yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Fires the signal: every call waiting on it ends. Firing again does
    /// nothing.
    pub fn fire(&self) {
        self.0.fired.store(true, Ordering::Release);
        self.0.notify.notify_waiters();
    }

    /// Whether the signal was fired.
    pub fn is_fired(&self) -> bool {
        self.0.fired.load(Ordering::Acquire)
    }

    /// Completes once the signal is fired.
    pub async fn fired(&self) {
        let notified = self.0.notify.notified();
        tokio::pin!(notified);
        // Registered before the check, so a fire in between is not lost.
        notified.as_mut().enable();
        if self.is_fired() {
            return;
        }
        notified.await;
    }
}
