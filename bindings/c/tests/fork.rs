//! An engine used in a child process after `fork` fails with
//! `MESH_RESULT_CLOSED` at once, and freeing it there returns: the
//! runtime's threads did not survive the fork, and nothing waits for
//! them. Alone in its test binary, so no other test holds a lock at the
//! moment of the fork.

use std::ptr::{null, null_mut};
use std::time::{Duration, Instant};

use mesh::*;

mod common;

use common::CONFIG;

#[test]
fn a_forked_child_gets_closed_rather_than_a_deadlock() {
    let url = b"http://order-service/";
    let mut engine = null_mut();
    let mut request = null_mut();
    let mut response = null_mut();
    // SAFETY: valid pointers, as C would pass them; the child calls only
    // this library and `_exit`.
    unsafe {
        assert_eq!(
            mesh_engine_new_static(
                null(),
                0,
                CONFIG.as_ptr(),
                CONFIG.len(),
                &mut engine,
                null_mut()
            ),
            mesh_result::Ok
        );
        mesh_request_new(
            b"GET".as_ptr(),
            3,
            url.as_ptr(),
            url.len(),
            &mut request,
            null_mut(),
        );
        // The runtime's workers are running (a refused connection).
        let code = mesh_engine_execute(engine, request, null(), &mut response, null_mut());
        assert_eq!(code, mesh_result::Transport);

        let child = libc::fork();
        assert!(child >= 0, "fork failed");
        if child == 0 {
            let used = mesh_engine_execute(engine, request, null(), &mut response, null_mut());
            let freed = mesh_engine_free(engine);
            let ok = used == mesh_result::Closed && freed == mesh_result::Ok;
            libc::_exit(if ok { 0 } else { 1 });
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut status = 0;
        loop {
            let done = libc::waitpid(child, &mut status, libc::WNOHANG);
            if done == child {
                break;
            }
            if Instant::now() > deadline {
                libc::kill(child, libc::SIGKILL);
                libc::waitpid(child, &mut status, 0);
                panic!("the child hung: a deadlock after fork");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(
            libc::WIFEXITED(status),
            "the child crashed: status {status}"
        );
        assert_eq!(libc::WEXITSTATUS(status), 0, "the child saw another result");

        // The parent's engine is untouched.
        let code = mesh_engine_execute(engine, request, null(), &mut response, null_mut());
        assert_eq!(code, mesh_result::Transport);
        mesh_request_free(request);
        assert_eq!(mesh_engine_free(engine), mesh_result::Ok);
    }
}
