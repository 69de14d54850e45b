//! Transports that a [`Stop`] can stop: git:// over sockets with deadlines that a
//! cancellation shuts down, and HTTP(S) through gix's reqwest client with every
//! response read checked against the deadline.

use std::io::{self, BufRead, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use gix::protocol::transport::Protocol;
use gix::protocol::transport::client::blocking_io::http;
use gix::protocol::transport::client::git;

use crate::stop::{Stop, Stopped};

/// git's default daemon port.
const GIT_DAEMON_PORT: u16 = 9418;

/// Connects to the git daemon of `url`: each address in turn within `connect_timeout`;
/// the socket is registered with `stop` and every read and write on it honours the
/// deadline.
pub(crate) fn connect_daemon(
    url: &gix::Url,
    version: Protocol,
    connect_timeout: Duration,
    stop: &Stop,
) -> io::Result<git::blocking_io::Connection<DeadlineSocket, DeadlineSocket>> {
    let host = url
        .host()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the URL names no host"))?;
    let port = url.port.unwrap_or(GIT_DAEMON_PORT);
    let mut last_error = None;
    let mut socket = None;
    for address in (host, port).to_socket_addrs()? {
        let timeout = connect_timeout.min(stop.remaining());
        if timeout.is_zero() {
            return Err(Stopped::Deadline.into_io());
        }
        match TcpStream::connect_timeout(&address, timeout) {
            Ok(connected) => {
                socket = Some(connected);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let socket = match (socket, last_error) {
        (Some(socket), _) => socket,
        (None, Some(e)) => return Err(e),
        (None, None) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ));
        }
    };
    stop.register(&socket)?;
    let reader = DeadlineSocket {
        socket: socket.try_clone()?,
        stop: stop.clone(),
    };
    let writer = DeadlineSocket {
        socket,
        stop: stop.clone(),
    };
    Ok(git::blocking_io::Connection::new(
        reader,
        writer,
        version,
        url.path.clone(),
        Some((host.to_owned(), url.port)),
        git::ConnectMode::Daemon,
        false,
    )
    .custom_url(Some(url.to_bstring())))
}

/// A socket whose reads and writes wait at most until the deadline.
pub(crate) struct DeadlineSocket {
    socket: TcpStream,
    stop: Stop,
}

impl DeadlineSocket {
    /// The time an I/O call may wait, or why it may not.
    fn budget(&self) -> io::Result<Duration> {
        self.stop.check().map_err(Stopped::into_io)?;
        Ok(self.stop.remaining())
    }

    /// A timeout error becomes the deadline's (the socket reports `WouldBlock`).
    fn map(&self, error: io::Error) -> io::Error {
        match (error.kind(), self.stop.check()) {
            (_, Err(stopped)) => stopped.into_io(),
            (io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut, Ok(())) => {
                Stopped::Deadline.into_io()
            }
            _ => error,
        }
    }
}

impl Read for DeadlineSocket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let budget = self.budget()?;
        self.socket.set_read_timeout(Some(budget))?;
        match self.socket.read(buf) {
            // A socket shut down by a cancellation reads as the end of the stream.
            Ok(0) if !buf.is_empty() => self.stop.check().map(|()| 0).map_err(Stopped::into_io),
            Ok(n) => Ok(n),
            Err(e) => Err(self.map(e)),
        }
    }
}

impl Write for DeadlineSocket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let budget = self.budget()?;
        self.socket.set_write_timeout(Some(budget))?;
        self.socket.write(buf).map_err(|e| self.map(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush()
    }
}

/// gix's reqwest client, with response headers and bodies read chunk by chunk and
/// the deadline (or cancellation) checked before each chunk.
pub(crate) struct DeadlineHttp {
    inner: http::reqwest::Remote,
    stop: Stop,
}

impl DeadlineHttp {
    /// A client for one operation.
    pub(crate) fn new(stop: Stop) -> Self {
        Self {
            inner: http::reqwest::Remote::default(),
            stop,
        }
    }

    /// Connects to `url`.
    pub(crate) fn connect(self, url: gix::Url, version: Protocol) -> http::Transport<Self> {
        http::connect_http(self, url, version, false)
    }
}

impl http::Http for DeadlineHttp {
    type Headers = DeadlineReader<<http::reqwest::Remote as http::Http>::Headers>;
    type ResponseBody = DeadlineReader<<http::reqwest::Remote as http::Http>::ResponseBody>;
    type PostBody = <http::reqwest::Remote as http::Http>::PostBody;

    fn get(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> gix::Result<http::GetResponse<Self::Headers, Self::ResponseBody>> {
        self.stop
            .check()
            .map_err(|stopped| gix::Error::from_error(stopped.into_io()))?;
        let response = self.inner.get(url, base_url, headers)?;
        Ok(http::GetResponse {
            headers: DeadlineReader::new(response.headers, &self.stop),
            body: DeadlineReader::new(response.body, &self.stop),
        })
    }

    fn post(
        &mut self,
        url: &str,
        base_url: &str,
        headers: impl IntoIterator<Item = impl AsRef<str>>,
        body: http::PostBodyDataKind,
    ) -> gix::Result<http::PostResponse<Self::Headers, Self::ResponseBody, Self::PostBody>> {
        self.stop
            .check()
            .map_err(|stopped| gix::Error::from_error(stopped.into_io()))?;
        let response = self.inner.post(url, base_url, headers, body)?;
        Ok(http::PostResponse {
            post_body: response.post_body,
            headers: DeadlineReader::new(response.headers, &self.stop),
            body: DeadlineReader::new(response.body, &self.stop),
        })
    }

    fn configure(&mut self, config: &dyn std::any::Any) -> gix::Result<()> {
        self.inner.configure(config)
    }

    fn redirected_base_url(&self) -> Option<String> {
        self.inner.redirected_base_url()
    }
}

/// A buffered reader that checks the deadline before each chunk and never waits for
/// more than one chunk (gix's pipe reader fills the whole buffer before it returns,
/// which a server sending a byte a second stretches without end).
pub(crate) struct DeadlineReader<R> {
    inner: R,
    stop: Stop,
}

impl<R> DeadlineReader<R> {
    fn new(inner: R, stop: &Stop) -> Self {
        Self {
            inner,
            stop: stop.clone(),
        }
    }
}

impl<R: BufRead> Read for DeadlineReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let chunk = self.fill_buf()?;
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for DeadlineReader<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.stop.check().map_err(Stopped::into_io)?;
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
    }
}
