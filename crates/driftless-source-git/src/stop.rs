//! [`Stop`]: how a blocking git operation is stopped for real when it times out or is
//! cancelled, not merely abandoned.
//!
//! gix checks its interrupt flag only between steps, and a transport blocked in a
//! socket read checks nothing. So every read of the network honours the operation's
//! deadline (git:// sockets get read and write timeouts up to it; HTTP bodies are read
//! chunk by chunk, checking it before each chunk), and a cancellation shuts the git://
//! sockets down, which wakes a blocked read at once.

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The deadline and the cancellation of one resolve or fetch, shared by the thread
/// doing the work and the task waiting for it.
#[derive(Debug, Clone)]
pub(crate) struct Stop {
    deadline: Instant,
    interrupt: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

/// Why an operation stopped early: the reason a transport read failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Stopped {
    /// The deadline passed.
    #[error("the operation's deadline passed")]
    Deadline,
    /// The operation was cancelled.
    #[error("the operation was cancelled")]
    Cancelled,
}

impl Stopped {
    /// As an I/O error, so that it travels through gix's readers.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self {
            Self::Deadline => io::ErrorKind::TimedOut,
            // Not `Interrupted`: readers retry on that kind.
            Self::Cancelled => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

impl Stop {
    /// A stop for an operation that may take `timeout` from now.
    pub(crate) fn new(timeout: Duration) -> Self {
        let now = Instant::now();
        Self {
            deadline: now
                .checked_add(timeout)
                .unwrap_or(now + Duration::from_secs(86_400)),
            interrupt: Arc::new(AtomicBool::new(false)),
            sockets: Arc::default(),
        }
    }

    /// gix's interrupt flag.
    pub(crate) fn flag(&self) -> &AtomicBool {
        &self.interrupt
    }

    /// The time left until the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Fails when the operation was cancelled or its deadline passed.
    pub(crate) fn check(&self) -> Result<(), Stopped> {
        if self.interrupt.load(Ordering::Relaxed) {
            Err(Stopped::Cancelled)
        } else if self.remaining().is_zero() {
            Err(Stopped::Deadline)
        } else {
            Ok(())
        }
    }

    /// Raises the interrupt flag and shuts every registered socket down, so reads
    /// blocked on them return at once.
    pub(crate) fn trigger(&self) {
        self.interrupt.store(true, Ordering::Relaxed);
        for socket in self.lock_sockets().iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Registers a socket to shut down on [`trigger`](Self::trigger); one opened after
    /// the trigger is shut down at once.
    pub(crate) fn register(&self, socket: &TcpStream) -> io::Result<()> {
        let clone = socket.try_clone()?;
        self.lock_sockets().push(clone);
        if self.interrupt.load(Ordering::Relaxed) {
            let _ = socket.shutdown(Shutdown::Both);
        }
        Ok(())
    }

    fn lock_sockets(&self) -> std::sync::MutexGuard<'_, Vec<TcpStream>> {
        // A panic while holding the list leaves it intact: keep using it.
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_deadline_and_cancellation() {
        let stop = Stop::new(Duration::from_secs(60));
        assert_eq!(stop.check(), Ok(()));
        stop.trigger();
        assert_eq!(stop.check(), Err(Stopped::Cancelled));
        let expired = Stop::new(Duration::ZERO);
        assert_eq!(expired.check(), Err(Stopped::Deadline));
        assert_eq!(Stopped::Deadline.into_io().kind(), io::ErrorKind::TimedOut);
    }

    #[test]
    fn trigger_wakes_a_blocked_socket_read() {
        use std::io::Read as _;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let stop = Stop::new(Duration::from_secs(60));
        stop.register(&client).unwrap();
        let trigger = stop.clone();
        let waker = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            trigger.trigger();
        });
        let start = Instant::now();
        let read = client.read(&mut [0; 16]);
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
        assert!(start.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
    }
}
