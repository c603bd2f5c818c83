//! Engine handles: ids in a registry, never pointers to memory.
//!
//! An engine is shared by every thread of the host, and a host may free
//! it while another thread still holds its handle: a dangling pointer
//! there would be a crash. So a `mesh_engine *` is a number that is never
//! dereferenced and never reused; each call looks it up and holds the
//! engine for its duration. A freed handle is found missing and reported
//! as `MESH_RESULT_CLOSED` (or, freed twice, `INVALID_ARGUMENT`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use facade::{Engine, Error, ErrorKind};

use crate::boundary::invalid_argument;

/// An engine, as the C side sees it: an opaque handle.
#[allow(non_camel_case_types)]
#[derive(Debug)]
pub struct mesh_engine {
    _opaque: [u8; 0],
}

static ENGINES: LazyLock<RwLock<HashMap<usize, Arc<Engine>>>> = LazyLock::new(Default::default);
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

/// Registers `engine`, returning its handle.
pub(crate) fn insert(engine: Engine) -> *mut mesh_engine {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    ENGINES
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, Arc::new(engine));
    std::ptr::without_provenance_mut(id)
}

/// The engine behind `handle`.
pub(crate) fn get(handle: *const mesh_engine) -> Result<Arc<Engine>, Error> {
    if handle.is_null() {
        return Err(invalid_argument("engine is NULL"));
    }
    let id = handle.addr();
    let found = ENGINES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .get(&id)
        .cloned();
    found.ok_or_else(|| {
        // Ids are never reused: one below the next is an engine freed.
        if id < NEXT_ID.load(Ordering::Relaxed) {
            Error::new(ErrorKind::Closed, "the engine was freed")
        } else {
            invalid_argument("the engine handle never came from mesh_engine_new_*")
        }
    })
}

/// Unregisters `handle`, returning its engine if it was registered.
pub(crate) fn remove(handle: *const mesh_engine) -> Option<Arc<Engine>> {
    ENGINES
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&handle.addr())
}
