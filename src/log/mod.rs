//! The append-only log: the store's truth.
//!
//! Each writer appends to its own stream, `log/<stream id>/`, a run of
//! segment files `<20-digit number>.seg`, each a header followed by frames.
//! A frame carries one record as opaque bytes with a type tag: the log frames,
//! checksums, compresses, appends, reads back and recovers, and knows nothing
//! of what the records mean. The byte layouts and the crash analysis are in
//! `docs/format.md`.
//!
//! - [`frame`]: one record's bytes on disk;
//! - [`segment`]: the segment header, file names, the walk over frames;
//! - [`writer`]: [`StreamWriter`], appending, rotating, syncing;
//! - [`reader`]: [`StreamReader`], iterating frames across segments;
//! - [`recovery`]: cutting a torn tail when a writer opens.

pub mod frame;
pub mod reader;
pub mod recovery;
pub mod segment;
pub mod writer;

pub use frame::{COMPRESS_THRESHOLD, FLAG_LZ4, FRAME_HEADER_LEN, MAX_PAYLOAD_LEN};
pub use reader::{Frame, StreamReader, list_streams, stream_dir};
pub use recovery::{Recovery, TornTail};
pub use segment::{FORMAT_VERSION, SEGMENT_HEADER_LEN, SEGMENT_MAGIC, segment_file_name};
pub use writer::{Appended, Position, StreamWriter, SyncHandle};

/// Runs the frame and segment decoders over arbitrary bytes, for fuzzing.
///
/// Must never panic, whatever `data` holds. Returns how many frames decoded,
/// so callers (and the optimiser) cannot ignore the work.
pub fn fuzz_decode(data: &[u8]) -> usize {
    let header = segment::SegmentHeader::decode(data);
    let mut frames = walk(data, 0);
    if header.is_ok() {
        frames += walk(data, SEGMENT_HEADER_LEN);
    }

    // Probe every offset, as recovery does behind a damaged frame.
    for at in 0..data.len().min(512) {
        if frame::check(&data[at..]).is_ok() {
            frames += usize::from(frame::decode(&data[at..]).is_ok());
        }
    }
    frames
}

/// Walks frames from `offset` the way the reader does; counts the good ones.
fn walk(data: &[u8], mut offset: usize) -> usize {
    let mut frames = 0;
    while let segment::Step::Frame(_, end) = segment::next_frame(data, offset) {
        frames += 1;
        offset = end;
    }
    frames
}
