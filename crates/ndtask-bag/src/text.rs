//! Text files as bags of lines: [`read_text`] (one partition per file, or per block of bytes of
//! a big file; gzip by the `.gz` extension) and [`Bag::to_textfiles`] (one file per partition,
//! written by the partition's own task, in parallel), with JSON lines on top
//! ([`Bag::decode_json`], [`Bag::to_json`]).

use crate::bag::Bag;
use crate::delayed::Delayed;
use crate::files::{self, in_pieces, line_name, ReadText, TextSource};
use crate::layer::{arg, data_chunk, decode, items, pieced, Data, Deps, Input, Layer, Part};
use flate2::write::GzEncoder;
use ndtask_core::{Error, Fingerprint, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

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
    let (pieces, ident) = files::list(pattern, options)?;
    let pieces = Arc::new(pieces);
    let text = TextSource {
        pieces: pieces.clone(),
        ident,
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
