//! The runtime requests run on: driven by the callers' own threads, and
//! by a thread of its own only when no caller is there.
//!
//! A binding's caller blocks in `execute` until its response. Had the
//! request run on a worker thread, every request would cross threads four
//! times (the caller handing it over, the worker answering the socket's
//! readiness, the reply coming back), and on a virtual machine each
//! crossing costs tens of microseconds, more than the whole mesh. So the
//! requests' runtime is a current-thread runtime that callers drive
//! themselves: tokio lets several threads `block_on` one such runtime,
//! the first one owning its I/O and timer drivers (and running every
//! connection's task) while the others poll their own requests and take
//! the drivers over when the owner's call returns. A lone caller does its
//! socket I/O on its own thread, as an async Rust caller would.
//!
//! Connections, their idle timers, HTTP/2 pings and mirrored requests
//! must also move while no call is in flight: after [`IDLE_GRACE`]
//! without callers, an idle-driver thread takes the drivers, and gives
//! them back as soon as a caller arrives (that caller pays one hand-over,
//! a busy engine none).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mesh_core::{Error, ErrorKind};
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;

/// How long no caller must be there before the idle driver takes over.
pub(crate) const IDLE_GRACE: Duration = Duration::from_millis(10);

/// The requests' runtime and its idle driver.
#[derive(Debug)]
pub(crate) struct RequestRuntime {
    runtime: Arc<Runtime>,
    presence: Arc<Presence>,
    idle_driver: Option<JoinHandle<()>>,
}

/// Who is driving: the callers in `block_on`, and when the last one left.
#[derive(Debug)]
struct Presence {
    callers: AtomicUsize,
    /// When the last caller left, in nanoseconds since `epoch`.
    left_at: AtomicU64,
    epoch: Instant,
    /// Tells the idle driver to give the runtime back.
    arrived: Notify,
    stopping: AtomicBool,
}

impl Presence {
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Whether no caller has been there for `IDLE_GRACE`.
    fn idle(&self) -> bool {
        self.callers.load(Ordering::SeqCst) == 0
            && self
                .now()
                .saturating_sub(self.left_at.load(Ordering::Relaxed))
                >= IDLE_GRACE.as_nanos() as u64
    }
}

impl RequestRuntime {
    /// Builds the runtime and starts its idle driver.
    pub(crate) fn start() -> Result<Self, Error> {
        let runtime = Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(ErrorKind::Internal, "the requests' runtime could not start")
                    .with_source(e)
            })?;
        let runtime = Arc::new(runtime);
        let presence = Arc::new(Presence {
            callers: AtomicUsize::new(0),
            left_at: AtomicU64::new(0),
            epoch: Instant::now(),
            arrived: Notify::new(),
            stopping: AtomicBool::new(false),
        });
        let idle_driver = std::thread::Builder::new()
            .name("mesh-idle-driver".into())
            .spawn({
                let runtime = runtime.clone();
                let presence = presence.clone();
                move || drive_when_idle(&runtime, &presence)
            })
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    "the idle driver thread could not start",
                )
                .with_source(e)
            })?;
        Ok(Self {
            runtime,
            presence,
            idle_driver: Some(idle_driver),
        })
    }

    /// Runs `future` to completion on the calling thread, driving the
    /// runtime while no other caller does.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        let presence = &self.presence;
        presence.callers.fetch_add(1, Ordering::SeqCst);
        // If the idle driver holds the runtime, it lets go.
        presence.arrived.notify_one();
        let output = self.runtime.block_on(future);
        presence.left_at.store(presence.now(), Ordering::Relaxed);
        presence.callers.fetch_sub(1, Ordering::SeqCst);
        output
    }

    /// Stops the idle driver and then the runtime (closing every
    /// connection). Call it once no caller is in `block_on`.
    pub(crate) fn shut_down(mut self) {
        self.presence.stopping.store(true, Ordering::SeqCst);
        self.presence.arrived.notify_one();
        if let Some(thread) = self.idle_driver.take() {
            let _ = thread.join();
        }
        if let Ok(runtime) = Arc::try_unwrap(self.runtime) {
            drop(runtime);
        }
    }
}

/// The idle driver: waits until callers have been gone for
/// `IDLE_GRACE`, then drives the runtime until one arrives.
fn drive_when_idle(runtime: &Runtime, presence: &Presence) {
    while !presence.stopping.load(Ordering::SeqCst) {
        if !presence.idle() {
            std::thread::sleep(IDLE_GRACE);
            continue;
        }
        runtime.block_on(async {
            // A caller that came and went before this wait left a permit:
            // one extra turn of the loop, no harm.
            presence.arrived.notified().await;
        });
    }
}
