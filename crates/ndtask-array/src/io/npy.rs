//! NumPy's `.npy` files, read lazily and written in parallel.
//!
//! [`from_npy`] makes an array whose chunk tasks each read their own bytes from the file
//! (positioned reads, one per contiguous run of the chunk): a 10 GB file is never in memory.
//! [`Array::to_npy`] writes the header once, then every chunk task writes its chunk's bytes at
//! their place in the file, so chunks are written in parallel, by whichever thread or MPI rank
//! computed them, and never gathered. The file is created by one task that every write task
//! depends on, so on MPI no chunk is written before the file exists, and the bytes are the same
//! whatever the number of ranks.
//!
//! Files in C order with elements `f8`, `f4`, `i8` (read and written), `i4`, `u1` (read as
//! `i64`) and `b1` (bool), little- or big-endian; Fortran-order files are refused with an error
//! that says so.

use crate::api::any::AnyArray;
use crate::api::array::Array;
use crate::collection::Write;
use crate::io::sink::{write_all, Sink};
use crate::ops::creation::source;
use crate::plan::chunks::typed;
use crate::plan::dispatch_dtype;
use crate::plan::reader::{ChunkReader, FileStamp, Subset};
use ndarray::{ArrayD, IxDyn};
use ndtask_core::{
    ravel, try_vec, Chunk, ChunkGrid, Chunks, DType, Element, Error, Fingerprint, Result,
};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The element type of a file's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    F64,
    F32,
    I64,
    I32,
    U8,
    Bool,
}

impl Stored {
    fn size(self) -> usize {
        match self {
            Stored::F64 | Stored::I64 => 8,
            Stored::F32 | Stored::I32 => 4,
            Stored::U8 | Stored::Bool => 1,
        }
    }

    /// The ndtask element type the values are read as.
    fn dtype(self) -> DType {
        match self {
            Stored::F64 => DType::F64,
            Stored::F32 => DType::F32,
            Stored::I64 | Stored::I32 | Stored::U8 => DType::I64,
            Stored::Bool => DType::Bool,
        }
    }

    fn of(dtype: DType) -> Self {
        match dtype {
            DType::F64 => Stored::F64,
            DType::F32 => Stored::F32,
            DType::I64 => Stored::I64,
            DType::Bool => Stored::Bool,
        }
    }

    /// The stored type's Rust name.
    fn name(self) -> &'static str {
        match self {
            Stored::F64 => "f64",
            Stored::F32 => "f32",
            Stored::I64 => "i64",
            Stored::I32 => "i32",
            Stored::U8 => "u8",
            Stored::Bool => "bool",
        }
    }

    /// NumPy's `descr` for this type, little-endian.
    fn descr(self) -> &'static str {
        match self {
            Stored::F64 => "<f8",
            Stored::F32 => "<f4",
            Stored::I64 => "<i8",
            Stored::I32 => "<i4",
            Stored::U8 => "|u1",
            Stored::Bool => "|b1",
        }
    }
}

/// What an `.npy` header says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Header {
    stored: Stored,
    big_endian: bool,
    shape: Vec<usize>,
    /// Where the values start.
    data_offset: u64,
}

const MAGIC: &[u8] = b"\x93NUMPY";

fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::io(
        format!("reading the .npy header of {}", path.display()),
        std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    )
}

/// Reads and checks the header of the file at `path`.
fn read_header(path: &Path, file: &mut File) -> Result<Header> {
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    // A file that ends inside its header is named as such, with what the header needs.
    let mut read = |buf: &mut [u8], at: usize, part: &str| -> Result<()> {
        file.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(
                    path,
                    format!(
                        "the file is cut short inside its header: its {part} needs bytes \
                         {at}..{} ({} bytes at least), and the file has {size}",
                        at + buf.len(),
                        at + buf.len()
                    ),
                )
            } else {
                Error::io(format!("reading {}", path.display()), e)
            }
        })
    };
    let mut lead = [0u8; 10];
    read(&mut lead, 0, "magic, version and header length")?;
    if &lead[..6] != MAGIC {
        return Err(bad(path, "not an .npy file (no \\x93NUMPY magic)"));
    }
    let (major, minor) = (lead[6], lead[7]);
    let (len, start) = match major {
        1 => (u16::from_le_bytes([lead[8], lead[9]]) as usize, 10),
        2 | 3 => {
            let mut more = [0u8; 2];
            read(&mut more, 10, "header length")?;
            (
                u32::from_le_bytes([lead[8], lead[9], more[0], more[1]]) as usize,
                12,
            )
        }
        _ => return Err(bad(path, format!("unknown .npy version {major}.{minor}"))),
    };
    if len > 1 << 20 {
        return Err(bad(path, format!("a header of {len} bytes")));
    }
    let mut text = vec![0u8; len];
    read(&mut text, start, "header text")?;
    let text = String::from_utf8_lossy(&text);
    let field = |key: &str| -> Result<&str> {
        let at = text
            .find(&format!("'{key}'"))
            .ok_or_else(|| bad(path, format!("the header has no '{key}': {text}")))?;
        let rest = text[at + key.len() + 2..].trim_start();
        rest.strip_prefix(':')
            .map(str::trim_start)
            .ok_or_else(|| bad(path, format!("no value for '{key}' in {text}")))
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| bad(path, format!("descr is not a simple type: {descr}")))?;
    let (order, kind) = match descr.as_bytes().first() {
        Some(b'<' | b'>' | b'|' | b'=') => descr.split_at(1),
        _ => ("", descr),
    };
    let big_endian = order == ">";
    let stored = match kind {
        "f8" => Stored::F64,
        "f4" => Stored::F32,
        "i8" => Stored::I64,
        "i4" => Stored::I32,
        "u1" => Stored::U8,
        "b1" => Stored::Bool,
        _ => {
            return Err(bad(
                path,
                format!("element type {descr:?} is not supported (f8, f4, i8, i4, u1 and b1 are)"),
            ))
        }
    };
    if field("fortran_order")?.starts_with("True") {
        return Err(bad(
            path,
            "the file is in Fortran order; ndtask reads C-order files (np.ascontiguousarray)",
        ));
    }
    let shape_text = field("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad(path, format!("shape is not a tuple: {shape_text}")))?;
    let shape = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(path, format!("shape {shape_text}: {e}")))?;
    Ok(Header {
        stored,
        big_endian,
        shape,
        data_offset: (start + len) as u64,
    })
}

/// Fills `buf` from `file` at `offset` (positioned: threads share one file handle).
#[cfg(unix)]
pub(crate) fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Writes `buf` to `file` at `offset`.
#[cfg(unix)]
pub(crate) fn write_at(file: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

/// Fills `buf` from `file` at `offset`.
#[cfg(not(unix))]
pub(crate) fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        match std::os::windows::fs::FileExt::seek_read(file, buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Writes `buf` to `file` at `offset`.
#[cfg(not(unix))]
pub(crate) fn write_at(file: &File, mut buf: &[u8], mut offset: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buf, offset)?;
        buf = &buf[n..];
        offset += n as u64;
    }
    Ok(())
}

/// Decodes the values of one run of the file into `out`.
fn decode<T: Element>(h: &Header, bytes: &[u8], out: &mut Vec<T>) {
    let big = h.big_endian;
    macro_rules! each {
        ($n:literal, $ty:ty, $conv:expr) => {
            out.extend(bytes.chunks_exact($n).map(|b| {
                let mut a = [0u8; $n];
                a.copy_from_slice(b);
                let v = if big {
                    <$ty>::from_be_bytes(a)
                } else {
                    <$ty>::from_le_bytes(a)
                };
                $conv(v)
            }))
        };
    }
    match h.stored {
        Stored::F64 => each!(8, f64, T::from_f64),
        Stored::F32 => each!(4, f32, |v: f32| T::from_f64(v as f64)),
        Stored::I64 => each!(8, i64, T::from_i64),
        Stored::I32 => each!(4, i32, |v: i32| T::from_i64(v as i64)),
        Stored::U8 => out.extend(bytes.iter().map(|&b| T::from_i64(b as i64))),
        Stored::Bool => out.extend(bytes.iter().map(|&b| T::from_bool(b != 0))),
    }
}

/// Decodes little-endian values of element type `dtype` (as [`encode`] writes them) into
/// `out`.
pub(crate) fn decode_le<T: Element>(dtype: DType, bytes: &[u8], out: &mut Vec<T>) {
    let header = Header {
        stored: Stored::of(dtype),
        big_endian: false,
        shape: Vec::new(),
        data_offset: 0,
    };
    decode(&header, bytes, out);
}

/// Appends the little-endian bytes of `values` (of element type `T`) to `out`.
pub(crate) fn encode<T: Element>(values: impl Iterator<Item = T>, out: &mut Vec<u8>) {
    match T::DTYPE {
        DType::F64 => values.for_each(|v| out.extend_from_slice(&v.to_f64().to_le_bytes())),
        DType::F32 => {
            values.for_each(|v| out.extend_from_slice(&(v.to_f64() as f32).to_le_bytes()))
        }
        DType::I64 => values.for_each(|v| out.extend_from_slice(&v.to_i64().to_le_bytes())),
        DType::Bool => values.for_each(|v| out.push(v.to_bool() as u8)),
    }
}

/// The C-order runs of a box of an array: (first element's flat index, length) of each row
/// along the last axis, or of the whole box when it spans the trailing axes.
pub(crate) fn runs(array: &[usize], start: &[usize], shape: &[usize]) -> Vec<(usize, usize)> {
    let nd = array.len();
    if shape.contains(&0) {
        return Vec::new();
    }
    if nd == 0 {
        return vec![(0, 1)];
    }
    // Merge trailing axes that the box spans whole.
    let mut k = nd - 1;
    let mut run = shape[nd - 1];
    while k > 0 && shape[k] == array[k] && start[k] == 0 {
        k -= 1;
        run *= shape[k];
    }
    // Axes 0..k (exclusive) are iterated; axis k and after form one run.
    let outer: Vec<usize> = shape[..k].to_vec();
    let count: usize = outer.iter().product();
    let mut out = Vec::with_capacity(count);
    let mut idx = vec![0usize; k];
    for _ in 0..count {
        let mut at = start.to_vec();
        for a in 0..k {
            at[a] += idx[a];
        }
        out.push((ravel(array, &at), run));
        for a in (0..k).rev() {
            idx[a] += 1;
            if idx[a] < outer[a] {
                break;
            }
            idx[a] = 0;
        }
    }
    out
}

/// Reads regions of an `.npy` file.
struct NpyReader {
    path: PathBuf,
    file: File,
    header: Header,
    /// The file's length and modification time: part of its identity.
    stamp: FileStamp,
}

impl ChunkReader for NpyReader {
    fn name(&self) -> String {
        format!("npy:{}", self.path.display())
    }

    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("npy");
        h.str(&self.path.to_string_lossy());
        self.stamp.fingerprint(h);
        h.str(self.header.stored.descr());
        h.u8(self.header.big_endian as u8);
    }

    fn dtype(&self) -> DType {
        self.header.stored.dtype()
    }

    fn stored_dtype(&self) -> String {
        self.header.stored.name().to_string()
    }

    fn read(&self, r: &Subset) -> Result<Chunk> {
        let what = || format!("reading region {} of {}", r.describe(), self.path.display());
        dispatch_dtype!(self.dtype(), T => {
            let size = self.header.stored.size();
            let mut values: Vec<T> = try_vec(r.len(), what())?;
            let mut bytes = Vec::new();
            for (first, len) in runs(&r.array, &r.start, &r.shape) {
                bytes.resize(len * size, 0);
                let at = self.header.data_offset + (first * size) as u64;
                read_at(&self.file, &mut bytes, at).map_err(|e| Error::io(what(), e))?;
                decode(&self.header, &bytes, &mut values);
            }
            let a = ArrayD::from_shape_vec(IxDyn(&r.shape), values).map_err(Error::internal)?;
            Ok(T::into_chunk(a))
        })
    }
}

/// The shape of the `.npy` file at `path` and the element type its values are read as (to
/// choose chunks before [`from_npy`]).
///
/// # Errors
/// As [`from_npy`], for the header.
pub fn npy_shape(path: impl AsRef<Path>) -> Result<(Vec<usize>, DType)> {
    let path = path.as_ref();
    let mut file =
        File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let h = read_header(path, &mut file)?;
    Ok((h.shape, h.stored.dtype()))
}

/// A lazy array of the `.npy` file at `path`, cut into `chunks`, of the element type its
/// header gives (NumPy's `np.load(mmap_mode='r')` without knowing the type): `f8`, `f4`, `i8`
/// and `b1` as themselves, `i4` and `u1` as `i64` ([`AnyArray::stored_dtype`] tells which).
///
/// # Errors
/// As [`from_npy`].
///
/// # Examples
/// ```
/// use ndtask_core::DType;
/// let path = std::env::temp_dir().join(format!("ndtask-doc-any-{}.npy", std::process::id()));
/// ndtask_array::arange(0i64, 10, 1, [4])?.to_npy(&path)?.compute()?;
/// let x = ndtask_array::open_npy(&path, [5])?;
/// assert_eq!(x.dtype(), DType::I64);
/// assert_eq!(x.sum().compute()?, ndtask_array::AnyValue::I64(45));
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn open_npy(path: impl AsRef<Path>, chunks: impl Into<Chunks>) -> Result<AnyArray> {
    let (_, dtype) = npy_shape(path.as_ref())?;
    dispatch_dtype!(dtype, T => Ok(from_npy::<T>(path, chunks)?.into()))
}

/// A lazy array of the `.npy` file at `path`, cut into `chunks`: each chunk task reads only
/// its own bytes. `i4` and `u1` files are read as `i64`.
///
/// # Errors
/// [`Error::Io`] naming the path if the file cannot be opened or its header is not a C-order
/// `.npy` header of a supported element type; [`Error::InvalidArgument`] if its values are not
/// `T`; [`Error::Chunks`] if `chunks` does not fit its shape.
///
/// # Examples
/// ```
/// let path = std::env::temp_dir().join(format!("ndtask-doc-{}.npy", std::process::id()));
/// let x = ndtask_array::arange(0.0, 12.0, 1.0, [5])?.reshape([3, 4])?;
/// x.to_npy(&path)?.compute()?;
/// let y = ndtask_array::from_npy::<f64>(&path, [2, 2])?;
/// assert_eq!(y.compute()?, x.compute()?);
/// # std::fs::remove_file(&path).unwrap();
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn from_npy<T: Element>(path: impl AsRef<Path>, chunks: impl Into<Chunks>) -> Result<Array<T>> {
    let path = path.as_ref().to_path_buf();
    let mut file =
        File::open(&path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let header = read_header(&path, &mut file)?;
    let meta = file
        .metadata()
        .map_err(|e| Error::io(format!("reading the size of {}", path.display()), e))?;
    let elements = header
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| bad(&path, format!("shape {:?} overflows", header.shape)))?;
    let need = (elements as u128) * header.stored.size() as u128 + header.data_offset as u128;
    if (meta.len() as u128) < need {
        return Err(bad(
            &path,
            format!(
                "the file has {} bytes; its header ({:?} of {}) needs {need}",
                meta.len(),
                header.shape,
                header.stored.descr()
            ),
        ));
    }
    if header.stored.dtype() != T::DTYPE {
        return Err(Error::InvalidArgument(format!(
            "{} holds {} values (read as {}), not {}",
            path.display(),
            header.stored.descr(),
            header.stored.dtype(),
            T::DTYPE
        )));
    }
    let shape = header.shape.clone();
    let reader = NpyReader {
        path,
        file,
        header,
        stamp: FileStamp::of(&meta),
    };
    source(&shape, chunks.into(), Arc::new(reader))
}

/// The header of an `.npy` file of `shape` and element type `dtype` (version 1, padded so the
/// values start at a multiple of 64 bytes, as NumPy writes it).
fn header_bytes(dtype: DType, shape: &[usize]) -> Result<Vec<u8>> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {tuple}, }}",
        Stored::of(dtype).descr()
    );
    let unpadded = MAGIC.len() + 4 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let len = u16::try_from(dict.len()).map_err(|_| {
        Error::Shape(format!(
            "the .npy header of shape {shape:?} has {} bytes, more than version 1 holds",
            dict.len()
        ))
    })?;
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    Ok(out)
}

/// An `.npy` file being written: created with its header and the values' bytes as zeros, then
/// each chunk's bytes written at their place.
struct NpySink<T> {
    path: PathBuf,
    header: Vec<u8>,
    /// The file's length.
    len: u64,
    /// The written array's grid.
    grid: ChunkGrid,
    _t: std::marker::PhantomData<fn(T)>,
}

impl<T: Element> Sink for NpySink<T> {
    fn kind(&self) -> &'static str {
        "npy"
    }
    fn target(&self) -> String {
        self.path.display().to_string()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("npy");
        h.str(&self.path.to_string_lossy());
        h.u64(self.len);
        self.grid.fingerprint(h);
    }
    fn create(&self) -> Result<()> {
        let what = || format!("creating {}", self.path.display());
        let mut f = File::create(&self.path).map_err(|e| Error::io(what(), e))?;
        f.write_all(&self.header)
            .map_err(|e| Error::io(what(), e))?;
        f.set_len(self.len).map_err(|e| Error::io(what(), e))
    }
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()> {
        let idx = self.grid.unravel(block);
        let what = || format!("writing chunk {idx:?} of {}", self.path.display());
        let chunk = typed::<T>(chunk, "npy-write")?.as_standard_layout();
        let values = chunk
            .as_slice()
            .ok_or_else(|| Error::internal("a standard-layout chunk without a slice"))?;
        let (start, shape) = (self.grid.chunk_offset(&idx), self.grid.chunk_shape(&idx));
        let size = Stored::of(T::DTYPE).size();
        let data_offset = self.header.len() as u64;
        let file = OpenOptions::new()
            .write(true)
            .open(&self.path)
            .map_err(|e| Error::io(what(), e))?;
        let mut bytes = Vec::new();
        let mut done = 0;
        for (first, len) in runs(&self.grid.shape(), &start, &shape) {
            bytes.clear();
            encode(values[done..done + len].iter().copied(), &mut bytes);
            write_at(&file, &bytes, data_offset + (first * size) as u64)
                .map_err(|e| Error::io(what(), e))?;
            done += len;
        }
        Ok(())
    }
}

impl<T: Element> Array<T> {
    /// The lazy write of the array to an `.npy` file at `path` (C order, little-endian): when
    /// computed, chunks are written in parallel as they are computed, never gathered. On MPI
    /// each rank writes the chunks it computed (the file must be on a file system every rank
    /// sees).
    ///
    /// # Errors
    /// The array's error; the size of a file beyond 2^64 bytes. Computing the write: an
    /// [`Error::Io`] naming the path and the chunk that could not be written.
    ///
    /// # Examples
    /// ```
    /// let path = std::env::temp_dir().join(format!("ndtask-doc-npy-{}.npy", std::process::id()));
    /// let x = ndtask_array::arange(0.0, 12.0, 1.0, [5])?;
    /// x.to_npy(&path)?.compute()?;
    /// assert_eq!(ndtask_array::from_npy::<f64>(&path, [12])?.compute()?, x.compute()?);
    /// # std::fs::remove_file(&path).unwrap();
    /// # Ok::<(), ndtask_core::Error>(())
    /// ```
    pub fn to_npy(&self, path: impl AsRef<Path>) -> Result<Write> {
        self.check()?;
        let header = header_bytes(T::DTYPE, &self.shape())?;
        let data_offset = header.len() as u64;
        let len = (self.len() as u64)
            .checked_mul(Stored::of(T::DTYPE).size() as u64)
            .and_then(|n| n.checked_add(data_offset))
            .ok_or_else(|| {
                Error::Shape(format!(
                    "an .npy file of shape {:?} would have more than 2^64 bytes",
                    self.shape()
                ))
            })?;
        let sink = NpySink::<T> {
            path: path.as_ref().to_path_buf(),
            header,
            len,
            grid: self.grid().clone(),
            _t: std::marker::PhantomData,
        };
        write_all(self, Arc::new(sink))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn runs_merge_the_trailing_axes_a_box_spans() {
        // A whole row block of a [4, 5] array: one run.
        assert_eq!(runs(&[4, 5], &[1, 0], &[2, 5]), vec![(5, 10)]);
        // A column block: one run per row.
        assert_eq!(runs(&[4, 5], &[1, 2], &[2, 3]), vec![(7, 3), (12, 3)]);
        assert_eq!(runs(&[2, 3, 4], &[1, 0, 0], &[1, 3, 4]), vec![(12, 12)]);
        assert_eq!(
            runs(&[2, 3, 4], &[0, 1, 0], &[2, 1, 4]),
            vec![(4, 4), (16, 4)]
        );
        assert!(runs(&[4, 0], &[0, 0], &[4, 0]).is_empty());
        assert_eq!(runs(&[], &[], &[]), vec![(0, 1)]);
    }

    #[test]
    fn headers_are_numpy_headers() {
        let h = header_bytes(DType::F64, &[3]).unwrap();
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h[10..]);
        assert!(text.starts_with("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }"));
        let h = header_bytes(DType::Bool, &[]).unwrap();
        assert!(String::from_utf8_lossy(&h).contains("'shape': ()"));
    }
}
