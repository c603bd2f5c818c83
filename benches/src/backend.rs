//! The loopback backend every path ends at: a minimal hyper server, and
//! the two ways the harness runs it ([`Setup`]).
//!
//! Why not `mesh_examples::backend`: the harness must state and control the
//! server's runtime, and the server should do as little as possible per
//! request, so that what differs between the paths is the client side. It
//! answers every request with `200` and a two-byte body, speaks HTTP/1.1
//! and HTTP/2 with prior knowledge (h2c) on the same port (hyper-util's
//! auto builder), and listens on several ports so that a cluster of several
//! endpoints gets distinct endpoints on 127.0.0.1.

use std::convert::Infallible;
use std::io;
use std::thread::JoinHandle;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::AbortHandle;

/// Where the backend runs relative to the client.
///
/// On a virtual machine a request that wakes a thread on another, idle
/// vCPU pays an inter-processor wake-up of tens of microseconds, and
/// whether the scheduler happens to co-locate two threads flips a run
/// between two latency modes. The harness therefore pins its threads and
/// measures two setups: the realistic one, and one without any cross-thread
/// wake-up that shows the client's CPU cost alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Client runtime on core 0, backend runtime on its own thread pinned
    /// to core 1: every request crosses cores, as to a server elsewhere.
    TwoThreads,
    /// The backend's tasks on the client's own current-thread runtime: no
    /// cross-thread wake-up on the raw and mesh paths, so their latency is
    /// CPU work and the mesh's share of it stands out from the noise.
    OneThread,
}

impl Setup {
    /// Both, in report order.
    pub const ALL: [Setup; 2] = [Setup::TwoThreads, Setup::OneThread];

    /// Short name.
    pub fn label(self) -> &'static str {
        match self {
            Setup::TwoThreads => "two threads",
            Setup::OneThread => "one thread",
        }
    }

    /// What it means, for the report.
    pub fn description(self) -> &'static str {
        match self {
            Setup::TwoThreads => {
                "client: one current-thread tokio runtime on the harness's main thread, pinned \
                 to core 0; backend: one current-thread tokio runtime on its own thread, pinned \
                 to core 1"
            }
            Setup::OneThread => {
                "client and backend tasks on the same current-thread tokio runtime, on core 0: \
                 no cross-thread wake-up on the raw and mesh paths (the proxies, separate \
                 processes, still wake)"
            }
        }
    }
}

/// A running backend; dropping it stops the server.
#[derive(Debug)]
pub struct Backend {
    ports: Vec<u16>,
    runs: Runs,
}

#[derive(Debug)]
enum Runs {
    /// On its own thread and runtime.
    Thread {
        stop: Option<oneshot::Sender<()>>,
        thread: Option<JoinHandle<()>>,
    },
    /// As tasks of the runtime that started it.
    Tasks(Vec<AbortHandle>),
}

impl Backend {
    /// Starts a server on `listeners` ephemeral ports of 127.0.0.1, on a
    /// current-thread runtime on a new thread, pinned to `core` if given.
    pub fn start(listeners: usize, core: Option<usize>) -> io::Result<Self> {
        let (bound, ports) = bind(listeners)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-backend".into())
            .spawn(move || {
                if let Some(core) = core {
                    core_affinity::set_for_current(core_affinity::CoreId { id: core });
                }
                runtime.block_on(async move {
                    for listener in bound {
                        drop(serve(listener));
                    }
                    // Runs until the handle drops; the runtime then drops
                    // every connection task with it.
                    let _ = stopped.await;
                });
            })?;
        Ok(Self {
            ports,
            runs: Runs::Thread {
                stop: Some(stop),
                thread: Some(thread),
            },
        })
    }

    /// Starts a server as tasks of the current tokio runtime (call inside
    /// it): it serves while that runtime runs.
    pub fn start_here(listeners: usize) -> io::Result<Self> {
        let (bound, ports) = bind(listeners)?;
        let tasks = bound.into_iter().filter_map(serve).collect();
        Ok(Self {
            ports,
            runs: Runs::Tasks(tasks),
        })
    }

    /// The ports it listens on, all on 127.0.0.1.
    pub fn ports(&self) -> &[u16] {
        &self.ports
    }

    /// The first port.
    pub fn port(&self) -> u16 {
        self.ports[0]
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        match &mut self.runs {
            Runs::Thread { stop, thread } => {
                if let Some(stop) = stop.take() {
                    let _ = stop.send(());
                }
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
            Runs::Tasks(tasks) => tasks.iter().for_each(AbortHandle::abort),
        }
    }
}

/// `count` (at least one) non-blocking listeners and their ports.
fn bind(count: usize) -> io::Result<(Vec<std::net::TcpListener>, Vec<u16>)> {
    let bound = (0..count.max(1))
        .map(|_| {
            let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            listener.set_nonblocking(true)?;
            Ok(listener)
        })
        .collect::<io::Result<Vec<_>>>()?;
    let ports = bound
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<io::Result<Vec<_>>>()?;
    Ok((bound, ports))
}

/// Spawns the accept loop of `listener` on the current runtime.
fn serve(listener: std::net::TcpListener) -> Option<AbortHandle> {
    match TcpListener::from_std(listener) {
        Ok(listener) => Some(tokio::spawn(accept(listener)).abort_handle()),
        Err(e) => {
            eprintln!("backend: cannot listen: {e}");
            None
        }
    }
}

async fn accept(listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of descriptors or similar: back off rather than spin.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(async move {
            let service = service_fn(|_request| async {
                Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"ok"))))
            });
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
