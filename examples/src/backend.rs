//! A real hyper HTTP server on loopback that answers with its own name.
//!
//! Each backend speaks HTTP/1.1 and HTTP/2 (auto-detected), answers every
//! request with status 200, a body and an `x-backend` header holding its
//! name, counts what it served, and stops when its handle drops. It echoes
//! what it saw (`x-seen-host`, `x-seen-version`) and waits `x-delay-ms`
//! milliseconds before answering when asked to, for timeout tests.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running backend; dropping it stops the server.
#[derive(Debug)]
pub struct Backend {
    name: Arc<str>,
    addr: SocketAddr,
    served: Arc<AtomicU64>,
    task: JoinHandle<()>,
}

impl Backend {
    /// Starts a backend called `name` on an ephemeral loopback port.
    pub async fn start(name: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let name: Arc<str> = name.into();
        let served = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(serve(listener, name.clone(), served.clone()));
        Ok(Self {
            name,
            addr,
            served,
            task,
        })
    }

    /// The backend's name, as it answers.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, name: Arc<str>, served: Arc<AtomicU64>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (name, served) = (name.clone(), served.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, name.clone(), served.clone()));
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    request: Request<Incoming>,
    name: Arc<str>,
    served: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    served.fetch_add(1, Ordering::Relaxed);
    let host = request
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let delay = request
        .headers()
        .get("x-delay-ms")
        .and_then(|h| h.to_str().ok()?.parse().ok());
    if let Some(ms) = delay {
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    let response = Response::builder()
        .header("x-backend", &*name)
        .header("x-seen-host", host)
        .header("x-seen-version", format!("{:?}", request.version()))
        .body(Full::new(Bytes::from(name.to_string())))
        .unwrap_or_default();
    Ok(response)
}
