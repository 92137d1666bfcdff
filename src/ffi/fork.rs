//! Hearing of forks: a handler that the C library runs in the child of every `fork()`,
//! whoever calls it (Python's `os.fork`, gunicorn, `multiprocessing`, C code).

use std::sync::Once;

/// Registers `handler` to run in the child after every `fork()` of this process, once per
/// process (later calls do nothing). `false` if the C library refused it.
///
/// The handler runs in the child while it has a single thread, before anything else: it
/// must be async-signal-safe (an atomic store is; a lock or an allocation is not).
pub fn in_child_after_fork(handler: extern "C" fn()) -> bool {
    static REGISTER: Once = Once::new();
    let mut ok = true;
    REGISTER.call_once(|| {
        // SAFETY: `pthread_atfork` only records the three function pointers; the two it
        // gets as None are not called, and `handler` is a plain `extern "C" fn()` that lives
        // for the whole program (a function item). It is registered once (the `Once`), so
        // the C library's table of handlers does not grow with each call.
        ok = unsafe { libc::pthread_atfork(None, None, Some(handler)) } == 0;
    });
    ok
}
