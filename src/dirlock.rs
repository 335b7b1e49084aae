//! The exclusive lock on a durable store's `DIR/LOCK` file (`docs/DURABILITY.md`, "The lock").
//!
//! On Linux the whole file is locked with an open-file-description record lock
//! (`fcntl(F_OFD_SETLK)`, exclusive, non-blocking). Such a lock conflicts with every other
//! `fcntl` record lock on the file: with another open-file-description lock (a second store in
//! this process, which opens the file again) and with the classic per-process `F_SETLK` lock that
//! the JVM's `FileChannel.tryLock()` takes, so a Rust store and a Kotlin store exclude each other
//! too. It belongs to this open file description: it is released when [`DirLock`] is dropped
//! (the descriptor closed) or when the process dies, and closing some other descriptor of the
//! file does not release it (as it would a classic lock).
//!
//! Elsewhere the standard library's [`File::try_lock`] is used (`flock` or `LockFileEx`).
//!
//! The core (`src/core`, which forbids `unsafe`) uses this module; the one `unsafe` call, the
//! `fcntl`, lives here.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

/// A held lock on a file; dropping it releases the lock (and closes the file).
#[derive(Debug)]
pub struct DirLock {
    /// The locked file; the lock lives as long as this open file description.
    _file: File,
}

/// Creates `path` if missing and locks it whole, exclusively, without waiting: `Ok(None)` if
/// another lock holds it (in this process or another).
///
/// # Errors
/// The I/O error if the file cannot be created or opened, or the lock call fails for another
/// reason than a conflicting lock.
pub fn try_lock(path: &Path) -> io::Result<Option<DirLock>> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    if lock_whole(&file)? {
        Ok(Some(DirLock { _file: file }))
    } else {
        Ok(None)
    }
}

/// `fcntl(F_OFD_SETLK)` with an exclusive lock on the whole file: true if taken, false if a
/// conflicting lock is held.
#[cfg(target_os = "linux")]
fn lock_whole(file: &File) -> io::Result<bool> {
    use std::os::fd::AsRawFd;

    // SAFETY: `flock` is a plain C struct of integers, for which all zero bytes is a valid value
    // (it also zeroes any padding or platform-specific field, as F_OFD_SETLK requires l_pid to
    // be 0).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as libc::c_short;
    lock.l_whence = libc::SEEK_SET as libc::c_short;
    // l_start = 0 and l_len = 0: from the start to the end of the file, however large it grows.
    loop {
        // SAFETY: the descriptor is open (borrowed from `file`, alive for the call), and the
        // third argument of F_OFD_SETLK is a pointer to a `struct flock`, valid for reads and
        // writes for the duration of the call (a local variable). fcntl keeps no reference to
        // it after returning.
        let rc = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_OFD_SETLK, &mut lock) };
        if rc == 0 {
            return Ok(true);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EACCES) => return Ok(false),
            Some(libc::EINTR) => continue,
            _ => return Err(err),
        }
    }
}

/// The standard library's advisory lock, where open-file-description locks do not exist.
#[cfg(not(target_os = "linux"))]
fn lock_whole(file: &File) -> io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_in_the_same_process_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("LOCK");
        let first = try_lock(&path).expect("lock").expect("free");
        assert!(try_lock(&path).expect("lock call").is_none());
        // Another descriptor of the file, opened and closed, does not release an OFD lock.
        drop(File::open(&path).expect("open"));
        assert!(try_lock(&path).expect("lock call").is_none());
        drop(first);
        assert!(try_lock(&path).expect("lock call").is_some());
    }
}
