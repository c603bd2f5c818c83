//! What every entry point does at the boundary: catch panics, hand out
//! errors, read the caller's pointers.

use std::ffi::CString;
use std::panic::{AssertUnwindSafe, catch_unwind};

use facade::{Error, ErrorKind};
use http::{HeaderName, HeaderValue};

use crate::error::{mesh_error, mesh_result};

/// Runs `body`, catching a panic, and reports its error through
/// `error_out` (when not NULL) and the returned code.
pub(crate) fn call(
    error_out: *mut *mut mesh_error,
    body: impl FnOnce() -> Result<(), Error>,
) -> mesh_result {
    if !error_out.is_null() {
        // SAFETY: the caller gives NULL or a writable `mesh_error *`.
        unsafe { error_out.write(std::ptr::null_mut()) };
    }
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| Err(panicked(&panic)));
    match result {
        Ok(()) => mesh_result::Ok,
        Err(error) => fail(error_out, &error),
    }
}

/// Runs an infallible accessor, giving `fallback` if it panics.
pub(crate) fn read<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panicked(panic: &Box<dyn std::any::Any + Send>) -> Error {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned());
    Error::new(
        ErrorKind::Internal,
        format!("panic caught at the C boundary: {what}"),
    )
}

fn fail(error_out: *mut *mut mesh_error, error: &Error) -> mesh_result {
    let code = mesh_result::from(error.kind());
    if !error_out.is_null() {
        let message = error.to_string().replace('\0', " ");
        let message = CString::new(message).unwrap_or_default();
        let error = Box::into_raw(Box::new(mesh_error { code, message }));
        // SAFETY: checked non-NULL; the caller gives a writable pointer.
        unsafe { error_out.write(error) };
    }
    code
}

pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The bytes at `ptr`, `len` long; NULL only with a length of 0.
///
/// # Safety
/// `ptr` is NULL or points at `len` readable bytes that outlive the call.
pub(crate) unsafe fn bytes<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(invalid_argument(format!(
                "{what} is NULL with a length of {len}"
            )))
        };
    }
    // SAFETY: non-NULL, and the caller vouches for `len` bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// The UTF-8 text at `ptr`, `len` long.
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn text<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded from the caller.
    let bytes = unsafe { bytes(ptr, len, what) }?;
    std::str::from_utf8(bytes).map_err(|_| invalid_argument(format!("{what} is not valid UTF-8")))
}

/// The handle at `ptr`, or an error naming it.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` from this library.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller passes NULL or a live handle.
    unsafe { ptr.as_ref() }.ok_or_else(|| invalid_argument(format!("{what} is NULL")))
}

/// The handle at `ptr`, mutable.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` from this library, used by
/// no other thread.
pub(crate) unsafe fn handle_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: the caller passes NULL or a live handle it owns.
    unsafe { ptr.as_mut() }.ok_or_else(|| invalid_argument(format!("{what} is NULL")))
}

/// Writes `value` to the out-pointer `out`, boxed.
///
/// # Safety
/// `out` is NULL (an error) or writable.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(invalid_argument(format!("{what} is NULL")));
    }
    // SAFETY: checked non-NULL; the caller vouches it is writable.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
    Ok(())
}

/// Checks an out-pointer before work whose result would be lost.
pub(crate) fn require_out<T>(out: *mut *mut T, what: &str) -> Result<(), Error> {
    if out.is_null() {
        return Err(invalid_argument(format!("{what} is NULL")));
    }
    Ok(())
}

/// Frees a boxed handle; NULL is fine.
///
/// # Safety
/// `ptr` is NULL or a live handle of type `T` from this library, not
/// used afterwards.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        let _ = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: a live box from `give`, given up by the caller.
            drop(unsafe { Box::from_raw(ptr) });
        }));
    }
}

/// Writes a borrowed byte string to `(ptr_out, len_out)` (either may be
/// NULL).
///
/// # Safety
/// Each out-pointer is NULL or writable.
pub(crate) unsafe fn lend(bytes: &[u8], ptr_out: *mut *const u8, len_out: *mut usize) {
    if !ptr_out.is_null() {
        // SAFETY: checked non-NULL, writable by contract.
        unsafe { ptr_out.write(bytes.as_ptr()) };
    }
    if !len_out.is_null() {
        // SAFETY: as above.
        unsafe { len_out.write(bytes.len()) };
    }
}

/// Lends the header at `index` of `headers` (name, value), or an error
/// naming the range.
///
/// # Safety
/// Each out-pointer is NULL or writable.
pub(crate) unsafe fn lend_header(
    headers: &[(HeaderName, HeaderValue)],
    index: usize,
    name: (*mut *const u8, *mut usize),
    value: (*mut *const u8, *mut usize),
) -> Result<(), Error> {
    let (n, v) = headers.get(index).ok_or_else(|| {
        invalid_argument(format!(
            "header index {index} is out of range (there are {})",
            headers.len()
        ))
    })?;
    // SAFETY: forwarded from the caller.
    unsafe {
        lend(n.as_str().as_bytes(), name.0, name.1);
        lend(v.as_bytes(), value.0, value.1);
    }
    Ok(())
}
