//! The files a text bag reads: which files a pattern matches, in natural order, cut into
//! pieces (a file, or a byte range of a big one), their identity, how their lines are read,
//! and how an item is named in errors (its file and line). `Bag` uses the names; `read_text`
//! the rest.

use flate2::read::MultiGzDecoder;
use ndtask_array::collection::layer::PIECE;
use ndtask_core::{Error, Fingerprint, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::Arc;

/// Options of [`crate::read_text_with`].
#[derive(Debug, Clone, Default)]
pub struct ReadText {
    /// Cut files larger than this many bytes into partitions of about this size, each holding
    /// the lines that start in its byte range (Dask's `blocksize`). `None`: one partition per
    /// file. Gzip files are never cut.
    pub blocksize: Option<u64>,
}

/// The files of a bag made by [`read_text`] and their identity.
#[derive(Debug, Clone)]
pub(crate) struct TextSource {
    pub(crate) pieces: Arc<Vec<Piece>>,
    pub(crate) ident: u64,
}

/// One partition of a text bag: a file, or a byte range of one.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    path: PathBuf,
    gzip: bool,
    /// The lines that start in `start..end` (`end`: the file's size for a whole file).
    start: u64,
    end: u64,
}

/// The pieces of the files `pattern` matches (see [`crate::read_text_with`]) and their
/// identity (paths, sizes and modification times).
pub(crate) fn list(pattern: &str, options: &ReadText) -> Result<(Vec<Piece>, u64)> {
    let mut paths = glob::glob(pattern)
        .map_err(|e| Error::InvalidArgument(format!("read_text: bad pattern {pattern:?}: {e}")))?
        .map(|p| {
            p.map_err(|e| {
                Error::io(
                    format!("read_text: listing {pattern:?}"),
                    std::io::Error::from(e),
                )
            })
        })
        .collect::<Result<Vec<PathBuf>>>()?;
    paths.retain(|p| p.is_file());
    if paths.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "read_text: no file matches {pattern:?}"
        )));
    }
    paths.sort_by(|a, b| natural(&a.to_string_lossy(), &b.to_string_lossy()));
    let mut pieces = Vec::new();
    let mut h = Fingerprint::new();
    for path in paths {
        let meta = std::fs::metadata(&path)
            .map_err(|e| Error::io(format!("read_text: {}", path.display()), e))?;
        let size = meta.len();
        h.str(&path.to_string_lossy());
        h.u64(size);
        if let Ok(t) = meta.modified() {
            let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            h.u64(since.as_nanos() as u64);
        }
        let gzip = path.extension().is_some_and(|e| e == "gz");
        match options.blocksize {
            Some(bs) if !gzip && size > bs => {
                let mut start = 0;
                while start < size {
                    let end = start.saturating_add(bs).min(size);
                    pieces.push(Piece {
                        path: path.clone(),
                        gzip,
                        start,
                        end,
                    });
                    start = end;
                }
            }
            _ => pieces.push(Piece {
                path,
                gzip,
                start: 0,
                end: size,
            }),
        }
    }
    Ok((pieces, h.finish()))
}

/// How an error names item `i` of partition `b`: its file and line when the items come
/// from files, its position otherwise.
pub(crate) fn item_name(origin: &Option<TextSource>, b: usize, i: usize) -> String {
    match origin.as_ref().and_then(|t| t.pieces.get(b)) {
        Some(p) => line_name(p, i),
        None => format!("partition {b}, item {i}"),
    }
}

/// How an error names line `n` (0-based) of a piece.
pub(crate) fn line_name(p: &Piece, n: usize) -> String {
    match p.start {
        0 => format!("{}, line {}", p.path.display(), n + 1),
        s => format!(
            "{}, line {} of the block from byte {s}",
            p.path.display(),
            n + 1
        ),
    }
}

/// Orders paths with their digit runs compared as numbers.
fn natural(a: &str, b: &str) -> std::cmp::Ordering {
    fn runs(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ra, rb) = (runs(a), runs(b));
    for (x, y) in ra.iter().zip(&rb) {
        let o = match (x, y) {
            ((true, x), (true, y)) => {
                let (x, y) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
                x.len().cmp(&y.len()).then_with(|| x.cmp(y))
            }
            ((_, x), (_, y)) => x.cmp(y),
        };
        if o.is_ne() {
            return o;
        }
    }
    ra.len().cmp(&rb.len()).then_with(|| a.cmp(b))
}

/// Calls `f` with each line of one piece (without its line end) and its number in the piece,
/// from one reused buffer.
fn each_line(p: &Piece, mut f: impl FnMut(&[u8], usize) -> Result<()>) -> Result<()> {
    let what = || format!("read_text: {}", p.path.display());
    let file = File::open(&p.path).map_err(|e| Error::io(what(), e))?;
    let mut r: Box<dyn BufRead> = if p.gzip {
        Box::new(BufReader::with_capacity(1 << 16, MultiGzDecoder::new(file)))
    } else {
        let mut r = BufReader::with_capacity(1 << 16, file);
        // A block owns the lines that start in it: skip the end of the line that the byte
        // before its start belongs to.
        if p.start > 0 {
            r.seek(SeekFrom::Start(p.start - 1))
                .map_err(|e| Error::io(what(), e))?;
        }
        Box::new(r)
    };
    let mut pos = p.start;
    let mut buf = Vec::new();
    if p.start > 0 {
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(what(), e))?;
        pos = p.start - 1 + n as u64;
    }
    let mut count = 0;
    while p.gzip || pos < p.end {
        buf.clear();
        let n = r
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(what(), e))?;
        if n == 0 {
            break;
        }
        pos += n as u64;
        let mut line = &buf[..];
        if let Some(l) = line.strip_suffix(b"\n") {
            line = l.strip_suffix(b"\r").unwrap_or(l);
        }
        f(line, count)?;
        count += 1;
    }
    Ok(())
}

/// Hands the items `item` makes of the lines of a piece to `sink`, [`PIECE`] at a time.
pub(crate) fn in_pieces<U>(
    p: &Piece,
    sink: &mut dyn FnMut(Vec<U>) -> Result<()>,
    item: impl Fn(&[u8], usize) -> Result<U>,
) -> Result<()> {
    let mut out = Vec::with_capacity(PIECE);
    each_line(p, |line, n| {
        out.push(item(line, n)?);
        if out.len() == PIECE {
            sink(std::mem::replace(&mut out, Vec::with_capacity(PIECE)))?;
        }
        Ok(())
    })?;
    sink(out)
}
