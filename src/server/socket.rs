//! The byte stream under a server WebSocket. Writes pass straight to the socket, except inside a
//! batch, when they gather in one buffer that the batch's flush writes with one syscall and then
//! frees. Big frames leave as fragments (see [`fragments`]). Together these keep an idle
//! connection's write memory near zero whatever it once sent (tungstenite's own never shrinks).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A WebSocket frame payload larger than this is sent as fragments no larger than this, so that
/// tungstenite's frame buffer (which keeps the capacity of the largest frame it ever formatted)
/// stays this small.
pub(crate) const MAX_FRAGMENT: usize = 1024;

/// Splits `text` into pieces of at most `max` bytes, each ending on a character boundary (so
/// every fragment is valid UTF-8 by itself, kind to clients that decode fragments one by one).
/// Returns byte ranges; one range for text that fits.
pub(crate) fn fragments(text: &str, max: usize) -> Vec<std::ops::Range<usize>> {
    // A character is at most 4 bytes: a limit below that could not make progress.
    let max = max.max(4);
    let mut out = Vec::with_capacity(text.len() / max + 1);
    let mut start = 0;
    while text.len() - start > max {
        let mut end = start + max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        out.push(start..end);
        start = end;
    }
    out.push(start..text.len());
    out
}

/// A stream whose writes can be gathered into batches; see the module doc.
#[derive(Debug)]
pub(crate) struct BatchingIo<S> {
    inner: S,
    /// Bytes of the open (or unfinished) batch; `written` of them are already on the socket.
    buf: Vec<u8>,
    written: usize,
    batching: bool,
}

impl<S> BatchingIo<S> {
    pub(crate) fn new(inner: S) -> BatchingIo<S> {
        BatchingIo {
            inner,
            buf: Vec::new(),
            written: 0,
            batching: false,
        }
    }

    /// Starts gathering writes; they reach the socket on the next flush.
    pub(crate) fn begin_batch(&mut self) {
        self.batching = true;
    }

    /// Writes pass straight through again (call after the batch's flush).
    pub(crate) fn end_batch(&mut self) {
        self.batching = false;
    }

    /// Bytes of write buffer this stream holds (0 between batches).
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }
}

impl<S: AsyncWrite + Unpin> BatchingIo<S> {
    /// Writes out the gathered bytes, then frees the buffer.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.buf.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.buf[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        // Free rather than clear: an idle connection should not keep its busiest batch's buffer.
        self.buf = Vec::new();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for BatchingIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for BatchingIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.batching {
            this.buf.extend_from_slice(data);
            return Poll::Ready(Ok(data.len()));
        }
        // Bytes left from an unfinished batch go first, to keep the order.
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.inner).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_out(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn fragments_cover_the_text_on_character_boundaries() {
        let text = "aé日🎉".repeat(500);
        let parts = fragments(&text, 7);
        assert!(parts.len() > 1);
        let mut joined = String::new();
        let mut expected_start = 0;
        for r in &parts {
            assert_eq!(r.start, expected_start, "no gaps, no overlaps");
            assert!(r.len() <= 7 && !r.is_empty(), "{r:?}");
            joined.push_str(&text[r.clone()]);
            expected_start = r.end;
        }
        assert_eq!(joined, text);
    }

    #[test]
    fn text_that_fits_is_one_fragment() {
        assert_eq!(fragments("hello", 5), vec![0..5]);
        assert_eq!(fragments("", 5), vec![0..0]);
        assert_eq!(fragments("hello!", 5), vec![0..5, 5..6]);
    }

    #[tokio::test]
    async fn a_batch_reaches_the_socket_on_flush_and_its_buffer_is_freed() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut io = BatchingIo::new(near);
        io.begin_batch();
        let big = vec![b'x'; 100_000];
        io.write_all(b"first ").await.unwrap();
        io.write_all(&big).await.unwrap();
        assert!(io.buffer_capacity() >= 100_006, "gathered, not yet written");
        io.flush().await.unwrap();
        io.end_batch();
        assert_eq!(io.buffer_capacity(), 0, "the batch's memory is given back");
        io.write_all(b" after").await.unwrap();
        assert_eq!(
            io.buffer_capacity(),
            0,
            "outside a batch writes pass through"
        );
        drop(io);
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.unwrap();
        assert_eq!(got.len(), 6 + 100_000 + 6);
        assert!(got.starts_with(b"first xxx") && got.ends_with(b"xx after"));
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_socket_buffer_is_written_whole() {
        // A 1 KiB pipe forces many partial writes while the reader drains it.
        let (near, mut far) = tokio::io::duplex(1024);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            far.read_to_end(&mut got).await.unwrap();
            got
        });
        let mut io = BatchingIo::new(near);
        io.begin_batch();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        io.write_all(&data).await.unwrap();
        io.flush().await.unwrap();
        io.end_batch();
        io.shutdown().await.unwrap();
        drop(io);
        assert_eq!(reader.await.unwrap(), data);
    }
}
