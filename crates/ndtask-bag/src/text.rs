//! Text files as bags of lines: [`read_text`] (one partition per file, or per block of bytes of
//! a big file; gzip by the `.gz` extension) and [`Bag::to_textfiles`] (one file per partition,
//! written by the partition's own task, in parallel), with JSON lines on top
//! ([`Bag::decode_json`], [`Bag::to_json`]).

use crate::bag::Bag;
use crate::delayed::Delayed;
use crate::layer::{arg, data_chunk, decode, items, pieced, Data, Deps, Input, Layer, Part, PIECE};
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use ndtask_core::{Error, Fingerprint, Result};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Options of [`read_text_with`].
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
    pieces: Arc<Vec<Piece>>,
    ident: u64,
}

/// One partition of a text bag: a file, or a byte range of one.
#[derive(Debug, Clone)]
struct Piece {
    path: PathBuf,
    gzip: bool,
    /// The lines that start in `start..end` (`end`: the file's size for a whole file).
    start: u64,
    end: u64,
}

/// The lines of the text files that `pattern` matches (a glob: `data/*.json`), one partition
/// per file, files in natural order (`2.json` before `10.json`). Lines lose their line end
/// (`\n` or `\r\n`), as `str::lines` does; a file ending in `.gz` is read through gzip.
///
/// # Errors
/// [`Error::InvalidArgument`] for a bad pattern, or one no file matches; [`Error::Io`] naming
/// the path for a file that cannot be read. When computed, a line that is not UTF-8 is an
/// error naming its file and line.
///
/// # Examples
/// ```
/// let dir = std::env::temp_dir().join(format!("ndtask-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("a.txt"), "one\ntwo\n").unwrap();
/// std::fs::write(dir.join("b.txt"), "three").unwrap();
/// let b = ndtask_bag::read_text(&format!("{}/*.txt", dir.display()))?;
/// assert_eq!(b.npartitions(), 2);
/// assert_eq!(b.compute()?, vec!["one", "two", "three"]);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn read_text(pattern: &str) -> Result<Bag<String>> {
    read_text_with(pattern, &ReadText::default())
}

/// [`read_text`] with options.
///
/// # Errors
/// As [`read_text`]; [`Error::InvalidArgument`] for a zero block size.
pub fn read_text_with(pattern: &str, options: &ReadText) -> Result<Bag<String>> {
    if options.blocksize == Some(0) {
        return Err(Error::InvalidArgument(
            "read_text: blocksize must be positive, got 0".into(),
        ));
    }
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
    let pieces = Arc::new(pieces);
    let text = TextSource {
        pieces: pieces.clone(),
        ident: h.finish(),
    };
    let layer = pieced("read_text", pieces.len(), move |b, sink| {
        let p = &pieces[b];
        in_pieces(p, sink, |line, n| {
            std::str::from_utf8(line)
                .map(str::to_string)
                .map_err(|_| Error::InvalidArgument(format!("{}: not UTF-8", line_name(p, n))))
        })
    });
    let mut bag = Bag::from_layer(layer.with_ident(text.ident), Some(text));
    bag.as_read = true;
    Ok(bag)
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
fn line_name(p: &Piece, n: usize) -> String {
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
fn in_pieces<U>(
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

impl Bag<String> {
    /// Decodes every line as JSON into a `U` (a `serde_json::Value`, or a type of your own
    /// with `#[derive(Deserialize)]`). A line that does not decode fails the compute with an
    /// error naming its file and line (for a bag read by [`read_text`]).
    pub fn decode_json<U: Data>(&self) -> Bag<U> {
        let Some(text) = self.origin.as_ref().filter(|_| self.as_read) else {
            return self.try_map(|line: &String| serde_json::from_str::<U>(line));
        };
        // Straight from the files: each line decoded from the read buffer.
        let pieces = text.pieces.clone();
        let layer = pieced("read_text+decode_json", pieces.len(), move |b, sink| {
            let p = &pieces[b];
            in_pieces(p, sink, |line, n| {
                // One UTF-8 check of the whole line is faster than serde_json's per string.
                let line = std::str::from_utf8(line).map_err(|_| {
                    Error::InvalidArgument(format!("{}: not UTF-8", line_name(p, n)))
                })?;
                serde_json::from_str::<U>(line)
                    .map_err(|e| Error::InvalidArgument(format!("{}: {e}", line_name(p, n))))
            })
        });
        Bag::from_layer(layer.with_ident(text.ident), self.origin.clone())
    }

    /// Writes partition `i` to the file named by `pattern` with `*` replaced by `i`, one item
    /// per line (gzip if the name ends in `.gz`), creating missing directories (Dask's
    /// `to_textfiles`). Each partition's task writes its own file, in parallel (on MPI, on
    /// the rank that computed the partition). Lazy: computing the result writes the files and
    /// gives their paths, in partition order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `pattern` has exactly one `*`. When computed,
    /// [`Error::Io`] naming the file that cannot be written.
    ///
    /// # Examples
    /// ```
    /// use ndtask_bag::Bag;
    /// let dir = std::env::temp_dir().join(format!("ndtask-doc-out-{}", std::process::id()));
    /// let b = Bag::from_vec((0..5).map(|i| i.to_string()).collect(), 2)?;
    /// let files = b.to_textfiles(&format!("{}/*.txt", dir.display()))?.compute()?;
    /// assert_eq!(files.len(), 2);
    /// assert_eq!(std::fs::read_to_string(&files[1]).unwrap(), "3\n4\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn to_textfiles(&self, pattern: &str) -> Result<Delayed<Vec<String>>> {
        if pattern.matches('*').count() != 1 {
            return Err(Error::InvalidArgument(format!(
                "to_textfiles: the pattern needs exactly one '*' (replaced by the partition \
                 number), got {pattern:?}"
            )));
        }
        let pattern = pattern.to_string();
        let mut h = Fingerprint::new();
        h.str(&pattern);
        let writes = Layer::stage(
            "to_textfiles",
            &self.layer,
            move |b: usize, part: Part<'_>| {
                let lines = items::<String>(part)?;
                let path = pattern.replacen('*', &b.to_string(), 1);
                write_lines(Path::new(&path), &lines)?;
                let n = path.len();
                Ok(data_chunk(path, n))
            },
        )
        .with_ident(h.finish());
        Ok(Delayed::of(
            "written",
            vec![Input::Layer(writes)],
            Deps::All,
            |ins| {
                ins.iter()
                    .map(|c| arg(c, Some(decode::<String>)).cloned())
                    .collect::<Result<Vec<String>>>()
            },
        ))
    }
}

fn write_lines(path: &Path, lines: &[String]) -> Result<()> {
    let what = || format!("to_textfiles: {}", path.display());
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(what(), e))?;
    }
    let file = File::create(path).map_err(|e| Error::io(what(), e))?;
    fn put(w: &mut impl Write, lines: &[String]) -> std::io::Result<()> {
        lines.iter().try_for_each(|l| {
            w.write_all(l.as_bytes())?;
            w.write_all(b"\n")
        })
    }
    let done = if path.extension().is_some_and(|e| e == "gz") {
        let mut w = GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
        put(&mut w, lines).and_then(|_| w.finish()?.flush())
    } else {
        let mut w = BufWriter::new(file);
        put(&mut w, lines).and_then(|_| w.flush())
    };
    done.map_err(|e| Error::io(what(), e))
}
