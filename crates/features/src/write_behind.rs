//! A writer whose `write` calls return at once while a thread of its own hands the bytes to the
//! file: the extraction pass renders rows while the kernel copies the previous megabyte, instead
//! of waiting for it (`write` was ~7 % of a one-pass extraction's CPU time; see
//! docs/performance.md).
//!
//! Memory is bounded: at most [`QUEUED`] full chunks of [`CHUNK`] bytes wait for the thread
//! (a writer that cannot keep up makes `write` block, as a plain file would). An error of the
//! file is kept and returned by the next `write` or `flush`, or by [`WriteBehind::finish`].

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::sink::LineOut;

/// Bytes collected before they are handed to the thread.
pub const CHUNK: usize = 1 << 20;
/// Chunks that may wait for the thread at once.
pub const QUEUED: usize = 2;

enum Job {
    Write(Vec<u8>),
    /// Flush the file and answer on the channel.
    Flush(SyncSender<io::Result<()>>),
}

/// See the module documentation.
pub struct WriteBehind<W: Write + Send + 'static> {
    buffer: Vec<u8>,
    jobs: Option<SyncSender<Job>>,
    /// Emptied chunks coming back from the thread, so the pass does not allocate per chunk.
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<(W, io::Result<()>)>>,
    /// Set by the thread when the file failed, so the next `write` reports it.
    failed: Arc<AtomicBool>,
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// Starts the thread that writes into `inner`.
    pub fn new(inner: W) -> io::Result<Self> {
        let (jobs, inbox) = mpsc::sync_channel::<Job>(QUEUED);
        let (give_back, spare) = mpsc::sync_channel::<Vec<u8>>(QUEUED + 1);
        let failed_flag = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&failed_flag);
        let thread = std::thread::Builder::new()
            .name("write-behind".into())
            .spawn(move || {
                let mut inner = inner;
                // The first error sticks: later chunks are dropped, every answer repeats it.
                let mut failed: Option<io::Error> = None;
                let status = |failed: &Option<io::Error>| match failed {
                    Some(e) => Err(io::Error::new(e.kind(), e.to_string())),
                    None => Ok(()),
                };
                for job in inbox {
                    match job {
                        Job::Write(mut chunk) => {
                            if failed.is_none() {
                                if let Err(e) = inner.write_all(&chunk) {
                                    failed = Some(e);
                                    flag.store(true, Ordering::Relaxed);
                                }
                            }
                            chunk.clear();
                            let _ = give_back.try_send(chunk);
                        }
                        Job::Flush(answer) => {
                            if failed.is_none() {
                                if let Err(e) = inner.flush() {
                                    failed = Some(e);
                                    flag.store(true, Ordering::Relaxed);
                                }
                            }
                            let _ = answer.send(status(&failed));
                        }
                    }
                }
                let result = status(&failed);
                (inner, result)
            })?;
        Ok(WriteBehind {
            buffer: Vec::with_capacity(CHUNK),
            jobs: Some(jobs),
            spare,
            thread: Some(thread),
            failed: failed_flag,
        })
    }

    /// Hands the collected bytes to the thread.
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK));
        let chunk = std::mem::replace(&mut self.buffer, next);
        self.send(Job::Write(chunk))
    }

    fn send(&mut self, job: Job) -> io::Result<()> {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread is gone: only a panic in `inner` ends it early.
            _ => Err(self.thread_error()),
        }
    }

    /// The error that ended the thread.
    fn thread_error(&mut self) -> io::Error {
        self.jobs = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok((_, Err(e)))) => e,
            Some(Err(_)) => io::Error::other("the output writer thread panicked"),
            _ => io::Error::other("the output writer thread has stopped"),
        }
    }

    /// Writes everything, flushes, stops the thread and returns the writer, or the first error.
    pub fn finish(mut self) -> io::Result<W> {
        self.send_buffer()?;
        self.jobs = None;
        let Some(thread) = self.thread.take() else {
            return Err(io::Error::other("the output writer thread has stopped"));
        };
        match thread.join() {
            Ok((mut inner, Ok(()))) => {
                inner.flush()?;
                Ok(inner)
            }
            Ok((_, Err(e))) => Err(e),
            Err(_) => Err(io::Error::other("the output writer thread panicked")),
        }
    }
}

impl<W: Write + Send + 'static> WriteBehind<W> {
    /// Hands `chunk` itself to the thread, after the bytes collected so far, and leaves an empty
    /// buffer of at least its capacity in its place: whole buffers change hands without a copy.
    pub fn write_buffer(&mut self, chunk: &mut Vec<u8>) -> io::Result<()> {
        if self.failed.load(Ordering::Relaxed) {
            self.flush()?;
        }
        if chunk.is_empty() {
            return Ok(());
        }
        self.send_buffer()?;
        let capacity = chunk.capacity();
        let mut next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(capacity));
        next.reserve(capacity);
        let full = std::mem::replace(chunk, next);
        self.send(Job::Write(full))
    }
}

/// A [`WriteBehind`] as a [`LineOut`]: a CSV sink's buffer of rows is handed to the writing
/// thread whole ([`WriteBehind::write_buffer`]) instead of copied into the thread's own.
pub struct Handover<W: Write + Send + 'static>(pub WriteBehind<W>);

impl<W: Write + Send + 'static> LineOut for Handover<W> {
    fn take_line(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        self.0.write_buffer(line)
    }
    fn flush_lines(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write + Send + 'static> Write for WriteBehind<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.failed.load(Ordering::Relaxed) {
            // The file failed: say so now rather than at the end.
            self.flush()?;
        }
        if self.buffer.len() + data.len() > CHUNK && !self.buffer.is_empty() {
            self.send_buffer()?;
        }
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.send_buffer()?;
        }
        Ok(data.len())
    }

    /// Waits until the thread has written and flushed everything written so far.
    fn flush(&mut self) -> io::Result<()> {
        self.send_buffer()?;
        let (answer, reply) = mpsc::sync_channel(1);
        self.send(Job::Flush(answer))?;
        reply
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("the output writer thread has stopped")))
    }
}

impl<W: Write + Send + 'static> Drop for WriteBehind<W> {
    /// Writes what is left (errors can only be seen through `flush` or `finish`).
    fn drop(&mut self) {
        let _ = self.send_buffer();
        self.jobs = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// Collects bytes; fails every write once `limit` bytes are in.
    #[derive(Clone, Debug)]
    struct Disk {
        data: Arc<Mutex<Vec<u8>>>,
        limit: usize,
        flushes: Arc<Mutex<u32>>,
    }

    impl Disk {
        fn new(limit: usize) -> Self {
            Disk {
                data: Arc::default(),
                limit,
                flushes: Arc::default(),
            }
        }
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut data = self.data.lock().unwrap();
            if data.len() + buf.len() > self.limit {
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"));
            }
            data.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            *self.flushes.lock().unwrap() += 1;
            Ok(())
        }
    }

    /// Deterministic bytes of every length from 0 to a few chunks, in pieces of mixed sizes.
    fn pieces() -> Vec<Vec<u8>> {
        let mut x = 12345u64;
        let mut out = Vec::new();
        for len in [
            0,
            1,
            7,
            100,
            4096,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 5,
            17,
        ] {
            let piece: Vec<u8> = (0..len)
                .map(|_| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (x >> 56) as u8
                })
                .collect();
            out.push(piece);
        }
        out
    }

    #[test]
    fn bytes_arrive_in_order_and_whole() {
        let disk = Disk::new(usize::MAX);
        let mut w = WriteBehind::new(disk.clone()).unwrap();
        let mut want = Vec::new();
        for p in pieces() {
            w.write_all(&p).unwrap();
            want.extend_from_slice(&p);
        }
        w.flush().unwrap();
        assert!(
            *disk.data.lock().unwrap() == want,
            "flush writes everything"
        );
        w.write_all(b"tail").unwrap();
        want.extend_from_slice(b"tail");
        let inner = w.finish().unwrap();
        assert!(*inner.data.lock().unwrap() == want);
        assert!(*disk.flushes.lock().unwrap() >= 2);
        // Dropped without finish: what was written still arrives.
        let disk = Disk::new(usize::MAX);
        let mut w = WriteBehind::new(disk.clone()).unwrap();
        w.write_all(b"abc").unwrap();
        drop(w);
        assert_eq!(*disk.data.lock().unwrap(), b"abc");
    }

    #[test]
    fn handed_over_buffers_arrive_in_order_between_written_bytes() {
        let disk = Disk::new(usize::MAX);
        let mut w = Handover(WriteBehind::new(disk.clone()).unwrap());
        let mut want = Vec::new();
        for (i, p) in pieces().into_iter().enumerate() {
            if i % 2 == 0 {
                // Bytes written by reference collect in the writer's own buffer first.
                w.0.write_all(&p).unwrap();
                want.extend_from_slice(&p);
            } else {
                let mut line = Vec::with_capacity(p.len() + 64);
                line.extend_from_slice(&p);
                let capacity = line.capacity();
                w.take_line(&mut line).unwrap();
                want.extend_from_slice(&p);
                assert!(line.is_empty(), "the line is left empty");
                assert!(line.capacity() >= capacity, "with room for the next one");
            }
        }
        w.flush_lines().unwrap();
        assert!(*disk.data.lock().unwrap() == want);
        let inner = w.0.finish().unwrap();
        assert!(*inner.data.lock().unwrap() == want);
    }

    #[test]
    fn a_full_disk_is_reported_by_a_later_handover() {
        let mut w = Handover(WriteBehind::new(Disk::new(CHUNK + CHUNK / 2)).unwrap());
        let mut error = None;
        for _ in 0..(QUEUED + 6) {
            let mut line = vec![b'x'; CHUNK];
            if let Err(e) = w.take_line(&mut line) {
                error = Some(e);
                break;
            }
        }
        let error = error.expect("a handover reports the failure");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        let e = w.0.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    }

    #[test]
    fn a_full_disk_is_reported_by_a_later_call() {
        let disk = Disk::new(CHUNK + CHUNK / 2);
        let mut w = WriteBehind::new(disk).unwrap();
        let chunk = vec![b'x'; CHUNK];
        // The second chunk fails in the thread; a later write says so (or else flush).
        // Each write hands one chunk over and blocks while QUEUED wait, so by the eighth the
        // thread has met the failure of the second.
        let mut error = None;
        for _ in 0..(QUEUED + 6) {
            if let Err(e) = w.write_all(&chunk) {
                error = Some(e);
                break;
            }
        }
        let error = error.expect("a write reports the failure");
        assert_eq!(error.kind(), io::ErrorKind::StorageFull, "{error}");
        let e = w.finish().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::StorageFull, "{e}");
    }
}
