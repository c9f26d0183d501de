//! One way to take a lock.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks a mutex, taking the data even if another thread panicked while holding it: every value
/// iotplan guards with a mutex (counters, logs, maps) stays consistent between statements, so a
/// panic elsewhere must not turn into a second one here.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
