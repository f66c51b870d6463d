//! A session file read on a thread of its own, a few blocks ahead of the replay that decodes it.
//!
//! Copying a file out of the page cache is the kernel's work, done inside `read` on the thread
//! that calls it: a sixth of a compact replay, during which nothing is decoded. Here a second
//! thread does the reads into a handful of large blocks and hands each over whole, so the copy
//! of the next blocks overlaps the decoding of this one. The blocks go round: the reader hands
//! back each one it has finished, and the thread reads into it again, so a whole replay uses
//! [`DEPTH`] + 2 blocks at most.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// The size of a block.
const BLOCK_BYTES: usize = 1 << 20;
/// How many read blocks may wait for the reader.
const DEPTH: usize = 2;

/// A [`BufRead`] over a file whose blocks a thread of its own reads ahead.
pub struct ReadAhead {
    /// Blocks in file order; an error ends the file. `None` once the file ended (or its error was
    /// returned), and when the reader is dropped, which stops the thread.
    blocks: Option<Receiver<io::Result<Vec<u8>>>>,
    /// Finished blocks, handed back to be read into again.
    spare: SyncSender<Vec<u8>>,
    block: Vec<u8>,
    at: usize,
    thread: Option<JoinHandle<()>>,
}

impl ReadAhead {
    /// Reads `file` from its current position to its end.
    pub fn new(file: File) -> io::Result<Self> {
        let (blocks_tx, blocks) = sync_channel(DEPTH);
        let (spare, spare_rx) = sync_channel(DEPTH + 2);
        let thread = std::thread::Builder::new()
            .name("session-read".to_owned())
            .spawn(move || read_blocks(file, &blocks_tx, &spare_rx))?;
        Ok(Self { blocks: Some(blocks), spare, block: Vec::new(), at: 0, thread: Some(thread) })
    }
}

/// The thread: reads `file` block by block until its end, an error, or a reader that stopped.
/// The bytes read before an error are handed over before it.
fn read_blocks(mut file: File, blocks: &SyncSender<io::Result<Vec<u8>>>, spare: &Receiver<Vec<u8>>) {
    loop {
        let mut block = spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BLOCK_BYTES));
        block.clear();
        let read = fill(&mut file, &mut block);
        if !block.is_empty() && blocks.send(Ok(block)).is_err() {
            return;
        }
        match read {
            Ok(false) => {}
            Ok(true) => return,
            Err(e) => {
                let _ = blocks.send(Err(e));
                return;
            }
        }
    }
}

/// Reads into the empty `block` until it holds a block's worth or the file ends; true when the
/// file ended.
fn fill(file: &mut File, block: &mut Vec<u8>) -> io::Result<bool> {
    let read = file.by_ref().take(BLOCK_BYTES as u64).read_to_end(block)?;
    Ok(read < BLOCK_BYTES)
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for ReadAhead {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.at == self.block.len()
            && let Some(blocks) = &self.blocks
        {
            let finished = std::mem::take(&mut self.block);
            if finished.capacity() > 0 {
                // The thread may have stopped (end of file): then the block is simply freed.
                let _ = self.spare.try_send(finished);
            }
            self.at = 0;
            match blocks.recv() {
                Ok(Ok(block)) => self.block = block,
                Ok(Err(e)) => {
                    self.blocks = None;
                    return Err(e);
                }
                // The thread ended with the file.
                Err(_) => self.blocks = None,
            }
        }
        Ok(&self.block[self.at..])
    }

    fn consume(&mut self, amount: usize) {
        self.at = (self.at + amount).min(self.block.len());
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // Closing the channel stops the thread at its next block; it is waited for, so that no
        // read of the file outlives the reader.
        self.blocks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Seek, SeekFrom, Write};

    use super::*;

    fn file_of(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
        file.write_all(bytes).unwrap_or_else(|e| panic!("{e}"));
        file.seek(SeekFrom::Start(0)).unwrap_or_else(|e| panic!("{e}"));
        file
    }

    /// Bytes that differ from block to block, so that a block read twice or skipped shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8 ^ (i / BLOCK_BYTES) as u8).collect()
    }

    #[test]
    fn reads_the_file_whole_and_in_order_across_many_blocks() {
        for len in [0, 1, BLOCK_BYTES - 1, BLOCK_BYTES, BLOCK_BYTES + 1, 7 * BLOCK_BYTES + 12_345] {
            let bytes = pattern(len);
            let mut read = Vec::new();
            let mut reader = ReadAhead::new(file_of(&bytes)).unwrap_or_else(|e| panic!("{e}"));
            reader.read_to_end(&mut read).unwrap_or_else(|e| panic!("{e}"));
            assert!(read == bytes, "{len} bytes read back as {} different ones", read.len());
            assert!(reader.fill_buf().unwrap_or_else(|e| panic!("{e}")).is_empty(), "the end stays the end");
        }
    }

    #[test]
    fn starts_where_the_file_stands_and_reads_lines() {
        let mut file = file_of(b"HEADERfirst\nsecond\n");
        file.seek(SeekFrom::Start(6)).unwrap_or_else(|e| panic!("{e}"));
        let reader = ReadAhead::new(file).unwrap_or_else(|e| panic!("{e}"));
        let lines: Vec<String> = reader.lines().map(|l| l.unwrap_or_else(|e| panic!("{e}"))).collect();
        assert_eq!(lines, ["first", "second"]);
    }

    #[test]
    fn a_reader_dropped_halfway_stops_its_thread() {
        // A file without end: only its reader going away can stop the thread.
        let endless = File::open("/dev/zero").unwrap_or_else(|e| panic!("{e}"));
        let mut reader = ReadAhead::new(endless).unwrap_or_else(|e| panic!("{e}"));
        let mut first = vec![1u8; 10];
        reader.read_exact(&mut first).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(first, [0u8; 10]);
        let thread = reader.thread.take().unwrap_or_else(|| panic!("the thread is running"));
        drop(reader);
        // At most ten seconds, in 5 ms steps.
        for _ in 0..2_000 {
            if thread.is_finished() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(thread.is_finished(), "the read thread outlived its reader");
    }

    #[test]
    fn a_read_error_is_returned_once_and_ends_the_file() {
        // A directory opens as a file on Linux, and reading it fails (EISDIR).
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = File::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let mut reader = ReadAhead::new(file).unwrap_or_else(|e| panic!("{e}"));
        let error = reader.fill_buf().map(<[u8]>::len);
        assert!(error.is_err(), "reading a directory: {error:?}");
        assert!(reader.fill_buf().unwrap_or_else(|e| panic!("{e}")).is_empty(), "then the end");
    }
}
