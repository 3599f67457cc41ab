//! NetCDF-3 files (classic, 64-bit offset and CDF-5), read and written in pure Rust.
//!
//! Reading parses the header once, checks that every variable's bytes are in the file (a
//! truncated file is an error naming the file and the variable), and then reads only the bytes
//! of the region a chunk asks for, with positioned reads that any number of tasks make at once.
//! Values are big-endian; CF decoding (fill values, scale and offset) happens as the bytes are
//! converted, so a chunk of packed shorts arrives as the floats it means.
//!
//! Writing makes a 64-bit offset file (CDF-2): the header and the coordinates are written by
//! one task, then every chunk of every data variable by the task that computed it, at its
//! place in the file.

use crate::attrs::{AttrValue, Attrs};
use crate::cf::{Decode, Encode, Stored};
use ndarray::{ArrayD, IxDyn};
use ndtask_array::reader::{ChunkReader, FileStamp, Subset};
use ndtask_array::sink::Sink;
use ndtask_core::{Chunk, DType, Element, Error, Fingerprint, Result};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

/// A dimension of a NetCDF file.
#[derive(Debug, Clone)]
pub(crate) struct NcDim {
    pub name: String,
    pub len: usize,
    pub unlimited: bool,
}

/// A variable of a NetCDF file.
#[derive(Debug, Clone)]
pub(crate) struct NcVar {
    pub name: String,
    pub dims: Vec<usize>,
    pub attrs: Attrs,
    pub stored: Stored,
    pub begin: u64,
    pub is_record: bool,
}

/// An open NetCDF-3 file: its header, and the file for positioned reads.
pub(crate) struct NcFile {
    pub path: PathBuf,
    file: std::fs::File,
    pub dims: Vec<NcDim>,
    pub attrs: Attrs,
    pub vars: Vec<NcVar>,
    pub numrecs: usize,
    recsize: u64,
    /// The length and last change of the file when it was opened.
    stamp: FileStamp,
}

const NC_DIMENSION: u32 = 0x0A;
const NC_VARIABLE: u32 = 0x0B;
const NC_ATTRIBUTE: u32 = 0x0C;

fn nc_type(code: u32) -> Option<Stored> {
    Some(match code {
        1 => Stored::I8,
        2 => Stored::Char,
        3 => Stored::I16,
        4 => Stored::I32,
        5 => Stored::F32,
        6 => Stored::F64,
        7 => Stored::U8,
        8 => Stored::U16,
        9 => Stored::U32,
        10 => Stored::I64,
        11 => Stored::U64,
        _ => return None,
    })
}

fn nc_code(s: Stored) -> u32 {
    match s {
        Stored::I8 | Stored::Bool => 1,
        Stored::Char => 2,
        Stored::I16 => 3,
        Stored::I32 => 4,
        Stored::F32 => 5,
        Stored::F64 => 6,
        Stored::U8 => 7,
        Stored::U16 => 8,
        Stored::U32 => 9,
        Stored::I64 => 10,
        Stored::U64 => 11,
    }
}

/// A header being parsed: runs out (`Short`) or is wrong (`Bad`).
enum Cut {
    Short,
    Bad(String),
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
    /// CDF-5: sizes and counts take 8 bytes.
    wide: bool,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], Cut> {
        let end = self.at.checked_add(n).ok_or(Cut::Short)?;
        let s = self.b.get(self.at..end).ok_or(Cut::Short)?;
        self.at = end;
        Ok(s)
    }
    fn u32(&mut self) -> std::result::Result<u32, Cut> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }
    fn u64(&mut self) -> std::result::Result<u64, Cut> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }
    /// A count or a size: 4 bytes, or 8 in CDF-5.
    fn count(&mut self) -> std::result::Result<u64, Cut> {
        if self.wide {
            self.u64()
        } else {
            self.u32().map(u64::from)
        }
    }
    fn pad(&mut self, n: usize) -> std::result::Result<(), Cut> {
        self.take((4 - n % 4) % 4).map(|_| ())
    }
    fn name(&mut self) -> std::result::Result<String, Cut> {
        let n = usize::try_from(self.count()?).map_err(|_| Cut::Bad("a name too long".into()))?;
        if n > 1 << 20 {
            return Err(Cut::Bad(format!("a name of {n} bytes")));
        }
        let s = String::from_utf8_lossy(self.take(n)?).into_owned();
        self.pad(n)?;
        Ok(s)
    }
    fn attrs(&mut self) -> std::result::Result<Attrs, Cut> {
        let tag = self.u32()?;
        let n = self.count()?;
        let mut attrs = Attrs::new();
        if tag == 0 && n == 0 {
            return Ok(attrs);
        }
        if tag != NC_ATTRIBUTE {
            return Err(Cut::Bad(format!("an attribute list with tag {tag:#x}")));
        }
        for _ in 0..n {
            let name = self.name()?;
            let code = self.u32()?;
            let t = nc_type(code)
                .ok_or_else(|| Cut::Bad(format!("attribute {name:?} of type {code}")))?;
            let count = usize::try_from(self.count()?)
                .map_err(|_| Cut::Bad("an attribute too long".into()))?;
            let bytes = count
                .checked_mul(t.size())
                .filter(|&b| b <= 1 << 30)
                .ok_or_else(|| Cut::Bad(format!("attribute {name:?} of {count} values")))?;
            let raw = self.take(bytes)?.to_vec();
            self.pad(bytes)?;
            attrs.set(name, attr_value(t, &raw));
        }
        Ok(attrs)
    }
}

/// An attribute's value from its big-endian bytes.
fn attr_value(t: Stored, raw: &[u8]) -> AttrValue {
    macro_rules! be {
        ($ty:ty, $n:expr) => {
            raw.chunks_exact($n)
                .map(|c| <$ty>::from_be_bytes(c.try_into().unwrap_or([0; $n])))
                .collect()
        };
    }
    match t {
        Stored::Char | Stored::Bool => AttrValue::Text(
            String::from_utf8_lossy(raw)
                .trim_end_matches('\0')
                .to_string(),
        ),
        Stored::I8 => AttrValue::I8(raw.iter().map(|&b| b as i8).collect()),
        Stored::U8 => AttrValue::U8(raw.to_vec()),
        Stored::I16 => AttrValue::I16(be!(i16, 2)),
        Stored::U16 => AttrValue::U16(be!(u16, 2)),
        Stored::I32 => AttrValue::I32(be!(i32, 4)),
        Stored::U32 => AttrValue::U32(be!(u32, 4)),
        Stored::I64 => AttrValue::I64(be!(i64, 8)),
        Stored::U64 => AttrValue::U64(be!(u64, 8)),
        Stored::F32 => AttrValue::F32(be!(f32, 4)),
        Stored::F64 => AttrValue::F64(be!(f64, 8)),
    }
}

/// Whether a file starts as NetCDF-3 does.
pub(crate) fn is_netcdf3(head: &[u8]) -> bool {
    head.len() >= 4 && &head[..3] == b"CDF" && matches!(head[3], 1 | 2 | 5)
}

fn corrupt(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::io(
        format!("reading the NetCDF file {}", path.display()),
        format!("the file is not valid NetCDF-3: {why}"),
    )
}

impl NcFile {
    /// Opens a NetCDF-3 file and checks its header against its length.
    pub fn open(path: &Path) -> Result<NcFile> {
        let what = || format!("opening the NetCDF file {}", path.display());
        let file = std::fs::File::open(path).map_err(|e| Error::io(what(), e))?;
        let meta = file.metadata().map_err(|e| Error::io(what(), e))?;
        let stamp = FileStamp::of(&meta);
        let len = stamp.len;
        // Read more of the file until the header parses (headers are small).
        let mut want: u64 = 64 * 1024;
        loop {
            let n = want.min(len) as usize;
            let mut head = vec![0u8; n];
            file.read_exact_at(&mut head, 0)
                .map_err(|e| Error::io(what(), e))?;
            if !is_netcdf3(&head) {
                return Err(corrupt(
                    path,
                    "it does not start with CDF\\x01, \\x02 or \\x05",
                ));
            }
            match parse(&head) {
                Ok((dims, attrs, vars, numrecs)) => {
                    let mut f = NcFile {
                        path: path.to_path_buf(),
                        file,
                        dims,
                        attrs,
                        vars,
                        numrecs: 0,
                        recsize: 0,
                        stamp,
                    };
                    f.finish(numrecs)?;
                    return Ok(f);
                }
                Err(Cut::Bad(why)) => return Err(corrupt(path, why)),
                Err(Cut::Short) if (n as u64) < len => want = want.saturating_mul(4),
                Err(Cut::Short) => {
                    return Err(corrupt(
                        path,
                        format!("the header is cut short ({len} bytes in all)"),
                    ))
                }
            }
        }
    }

    /// Record sizes and the check that every variable's bytes are in the file.
    fn finish(&mut self, numrecs: Option<u64>) -> Result<()> {
        let records: Vec<usize> = (0..self.vars.len())
            .filter(|&v| self.vars[v].is_record)
            .collect();
        self.recsize = if records.len() == 1 {
            self.slab(records[0])
        } else {
            records.iter().map(|&v| padded(self.slab(v))).sum()
        };
        let first = records.iter().map(|&v| self.vars[v].begin).min();
        self.numrecs = match (numrecs, first) {
            (Some(n), _) => {
                usize::try_from(n).map_err(|_| corrupt(&self.path, "too many records"))?
            }
            // Streaming: as many records as the file holds.
            (None, Some(b)) if self.recsize > 0 => {
                (self.stamp.len.saturating_sub(b) / self.recsize) as usize
            }
            _ => 0,
        };
        for (i, v) in self.vars.iter().enumerate() {
            let bytes = if v.is_record {
                if self.numrecs == 0 {
                    0
                } else {
                    (self.numrecs as u64 - 1) * self.recsize + self.slab(i)
                }
            } else {
                self.slab(i)
            };
            let end = v.begin.checked_add(bytes);
            if end.is_none_or(|e| e > self.stamp.len) {
                return Err(Error::io(
                    format!("reading the NetCDF file {}", self.path.display()),
                    format!(
                        "the file is truncated: the variable {:?} needs bytes {}..{} and the file \
                         has {}",
                        v.name,
                        v.begin,
                        end.map_or("overflow".into(), |e| e.to_string()),
                        self.stamp.len
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Bytes of one record of a record variable, or of a whole variable.
    fn slab(&self, v: usize) -> u64 {
        let var = &self.vars[v];
        let skip = usize::from(var.is_record);
        let n: u64 = var.dims[skip..]
            .iter()
            .map(|&d| self.dims[d].len as u64)
            .product();
        n * var.stored.size() as u64
    }

    /// The shape of variable `v`.
    pub fn shape(&self, v: usize) -> Vec<usize> {
        self.vars[v]
            .dims
            .iter()
            .map(|&d| {
                if self.dims[d].unlimited {
                    self.numrecs
                } else {
                    self.dims[d].len
                }
            })
            .collect()
    }

    /// The dimension names of variable `v`.
    pub fn dim_names(&self, v: usize) -> Vec<String> {
        self.vars[v]
            .dims
            .iter()
            .map(|&d| self.dims[d].name.clone())
            .collect()
    }

    /// Calls `f` with the big-endian bytes of the region `start`/`count` of variable `v`, in C
    /// order, run by run.
    fn read_region(
        &self,
        v: usize,
        start: &[usize],
        count: &[usize],
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<()> {
        let var = &self.vars[v];
        let shape = self.shape(v);
        let es = var.stored.size() as u64;
        let nd = shape.len();
        let what = || {
            let region: Vec<String> = start
                .iter()
                .zip(count)
                .map(|(s, c)| format!("{s}..{}", s + c))
                .collect();
            format!(
                "reading region [{}] of the variable {:?} in the NetCDF file {}",
                region.join(", "),
                var.name,
                self.path.display()
            )
        };
        if count.contains(&0) {
            return Ok(());
        }
        if nd == 0 {
            let mut b = vec![0u8; es as usize];
            self.file
                .read_exact_at(&mut b, var.begin)
                .map_err(|e| Error::io(what(), e))?;
            f(&b);
            return Ok(());
        }
        if var.is_record && nd == 1 && self.recsize != es {
            // One value per record, records apart: one small read each.
            let mut b = vec![0u8; es as usize];
            for rec in start[0]..start[0] + count[0] {
                self.file
                    .read_exact_at(&mut b, var.begin + rec as u64 * self.recsize)
                    .map_err(|e| Error::io(what(), e))?;
                f(&b);
            }
            return Ok(());
        }
        // The run: the last axes the region covers whole, and the one before them.
        let lowest = usize::from(var.is_record);
        let mut k = nd - 1;
        let mut run = count[k];
        while k > lowest && count[k] == shape[k] {
            k -= 1;
            run *= count[k];
        }
        // Strides in elements within a record (or the whole variable).
        let mut stride = vec![1u64; nd];
        for a in (0..nd.saturating_sub(1)).rev() {
            stride[a] = stride[a + 1] * if a + 1 < nd { shape[a + 1] as u64 } else { 1 };
        }
        let offset = |idx: &[usize]| -> u64 {
            let (rec, rest) = if var.is_record {
                (idx[0] as u64, 1)
            } else {
                (0, 0)
            };
            let within: u64 = (rest..nd).map(|a| idx[a] as u64 * stride[a]).sum();
            var.begin + rec * self.recsize + within * es
        };
        let outer: Vec<usize> = count[..k].to_vec();
        let runs: usize = outer.iter().product();
        let run_bytes = run as u64 * es;
        // Where runs sit close together, one read covers several.
        let mut idx: Vec<usize> = start.to_vec();
        let mut buf: Vec<u8> = Vec::new();
        let mut o = vec![0usize; k];
        let mut r = 0;
        while r < runs {
            for a in 0..k {
                idx[a] = start[a] + o[a];
            }
            idx[k] = start[k];
            let first = offset(&idx);
            // How many of the next runs along the innermost outer axis fit in one read of at
            // most 4 MiB that wastes at most as much as it keeps.
            let mut take = 1;
            if k > 0 && !(var.is_record && k == 1) {
                let left = count[k - 1] - o[k - 1];
                let step = stride[k - 1] * es;
                while take < left && (take as u64 + 1) * step <= 4 << 20 && step <= 2 * run_bytes {
                    take += 1;
                }
                if take > 1 {
                    let span = (take as u64 - 1) * step + run_bytes;
                    buf.resize(span as usize, 0);
                    self.file
                        .read_exact_at(&mut buf, first)
                        .map_err(|e| Error::io(what(), e))?;
                    for t in 0..take {
                        let s = (t as u64 * step) as usize;
                        f(&buf[s..s + run_bytes as usize]);
                    }
                }
            }
            if take == 1 {
                buf.resize(run_bytes as usize, 0);
                self.file
                    .read_exact_at(&mut buf, first)
                    .map_err(|e| Error::io(what(), e))?;
                f(&buf);
            }
            // Advance the outer index by `take` runs.
            r += take;
            if k > 0 {
                o[k - 1] += take;
                let mut a = k - 1;
                while o[a] >= count[a] && a > 0 {
                    o[a] = 0;
                    a -= 1;
                    o[a] += 1;
                }
            }
        }
        Ok(())
    }

    /// The values of variable `v` as `f64` (and as `i64` for integers), for coordinates.
    pub fn read_all(&self, v: usize) -> Result<(Vec<f64>, Option<Vec<i64>>)> {
        let shape = self.shape(v);
        let start = vec![0; shape.len()];
        let stored = self.vars[v].stored;
        let mut nums = Vec::new();
        let mut ints = stored.is_int().then(Vec::new);
        self.read_region(v, &start, &shape, &mut |b| {
            for_each_value(stored, b, &mut |x, i| {
                nums.push(x);
                if let (Some(ints), Some(i)) = (ints.as_mut(), i) {
                    ints.push(i);
                }
            });
        })?;
        Ok((nums, ints))
    }

    /// The text of a `char` variable: one string per row of its last dimension.
    pub fn read_text(&self, v: usize) -> Result<Vec<String>> {
        let shape = self.shape(v);
        let width = shape.last().copied().unwrap_or(1).max(1);
        let mut bytes = Vec::new();
        self.read_region(v, &vec![0; shape.len()], &shape, &mut |b| {
            bytes.extend_from_slice(b)
        })?;
        Ok(bytes
            .chunks(width)
            .map(|c| {
                String::from_utf8_lossy(c)
                    .trim_end_matches('\0')
                    .to_string()
            })
            .collect())
    }
}

/// Calls `f` with each big-endian value of `b` as `f64` and, for integers, `i64`.
fn for_each_value(t: Stored, b: &[u8], f: &mut dyn FnMut(f64, Option<i64>)) {
    macro_rules! each {
        ($ty:ty, $n:expr, $int:expr) => {
            for c in b.chunks_exact($n) {
                let v = <$ty>::from_be_bytes(c.try_into().unwrap_or([0; $n]));
                f(v as f64, if $int { Some(v as i64) } else { None });
            }
        };
    }
    match t {
        Stored::I8 => b
            .iter()
            .for_each(|&x| f(f64::from(x as i8), Some(i64::from(x as i8)))),
        Stored::U8 | Stored::Char | Stored::Bool => {
            b.iter().for_each(|&x| f(f64::from(x), Some(i64::from(x))))
        }
        Stored::I16 => each!(i16, 2, true),
        Stored::U16 => each!(u16, 2, true),
        Stored::I32 => each!(i32, 4, true),
        Stored::U32 => each!(u32, 4, true),
        Stored::I64 => each!(i64, 8, true),
        Stored::U64 => each!(u64, 8, true),
        Stored::F32 => each!(f32, 4, false),
        Stored::F64 => each!(f64, 8, false),
    }
}

type Parsed = (Vec<NcDim>, Attrs, Vec<NcVar>, Option<u64>);

/// Parses a header from the start of a file.
fn parse(b: &[u8]) -> std::result::Result<Parsed, Cut> {
    let version = b[3];
    let mut c = Cursor {
        b,
        at: 4,
        wide: version == 5,
    };
    let numrecs = c.count()?;
    let streaming = if version == 5 {
        numrecs == u64::MAX
    } else {
        numrecs == u64::from(u32::MAX)
    };
    let numrecs = (!streaming).then_some(numrecs);
    // Dimensions.
    let tag = c.u32()?;
    let n = c.count()?;
    let mut dims = Vec::new();
    if !(tag == 0 && n == 0) {
        if tag != NC_DIMENSION {
            return Err(Cut::Bad(format!("a dimension list with tag {tag:#x}")));
        }
        for _ in 0..n {
            let name = c.name()?;
            let len = c.count()?;
            let len = usize::try_from(len)
                .map_err(|_| Cut::Bad(format!("dimension {name:?} too long")))?;
            dims.push(NcDim {
                name,
                len,
                unlimited: len == 0,
            });
        }
    }
    let attrs = c.attrs()?;
    let tag = c.u32()?;
    let n = c.count()?;
    let mut vars = Vec::new();
    if !(tag == 0 && n == 0) {
        if tag != NC_VARIABLE {
            return Err(Cut::Bad(format!("a variable list with tag {tag:#x}")));
        }
        for _ in 0..n {
            let name = c.name()?;
            let nd = c.count()?;
            if nd > 1024 {
                return Err(Cut::Bad(format!("variable {name:?} with {nd} dimensions")));
            }
            let mut ids = Vec::new();
            for _ in 0..nd {
                let d = c.count()?;
                let d = usize::try_from(d)
                    .ok()
                    .filter(|&d| d < dims.len())
                    .ok_or_else(|| {
                        Cut::Bad(format!(
                            "variable {name:?} names dimension {d} of {}",
                            dims.len()
                        ))
                    })?;
                ids.push(d);
            }
            let vattrs = c.attrs()?;
            let code = c.u32()?;
            let stored = nc_type(code)
                .ok_or_else(|| Cut::Bad(format!("variable {name:?} of type {code}")))?;
            let _vsize = c.count()?;
            let begin = if version == 1 {
                u64::from(c.u32()?)
            } else {
                c.u64()?
            };
            let is_record = ids.first().is_some_and(|&d| dims[d].unlimited);
            if ids.iter().skip(1).any(|&d| dims[d].unlimited) {
                return Err(Cut::Bad(format!(
                    "variable {name:?} has the record dimension after its first"
                )));
            }
            vars.push(NcVar {
                name,
                dims: ids,
                attrs: vattrs,
                stored,
                begin,
                is_record,
            });
        }
    }
    Ok((dims, attrs, vars, numrecs))
}

fn padded(n: u64) -> u64 {
    n.div_ceil(4) * 4
}

/// Reads a data variable's chunks, decoding them as they are converted.
pub(crate) struct NcReader {
    pub file: Arc<NcFile>,
    pub var: usize,
    pub decode: Option<Decode>,
    pub dtype: DType,
}

impl ChunkReader for NcReader {
    fn name(&self) -> String {
        format!(
            "netcdf:{}:{}",
            self.file.path.display(),
            self.file.vars[self.var].name
        )
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("netcdf3");
        h.str(&self.file.path.to_string_lossy());
        self.file.stamp.fingerprint(h);
        h.str(&self.file.vars[self.var].name);
        h.str(&format!("{:?}", self.decode));
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn stored_dtype(&self) -> String {
        self.file.vars[self.var].stored.name().to_string()
    }
    fn read(&self, region: &Subset) -> Result<Chunk> {
        let stored = self.file.vars[self.var].stored;
        let what = || format!("{} values of {}", region.len(), self.name());
        decode_chunk(
            &region.shape,
            self.decode.as_ref(),
            self.dtype,
            what,
            &mut |push| {
                self.file
                    .read_region(self.var, &region.start, &region.shape, &mut |b| {
                        for_each_value(stored, b, push)
                    })
            },
        )
    }
}

/// Takes one stored number: as `f64`, and as `i64` for integers.
pub(crate) type Push<'a> = dyn FnMut(f64, Option<i64>) + 'a;

/// A chunk of `shape` of type `dtype` from the stored numbers `read` gives (as `f64`, and as
/// `i64` for integers), decoded by `decode`: the values of a NetCDF variable's region.
pub(crate) fn decode_chunk(
    shape: &[usize],
    decode: Option<&Decode>,
    dtype: DType,
    what: impl Fn() -> String,
    read: &mut dyn FnMut(&mut Push<'_>) -> Result<()>,
) -> Result<Chunk> {
    let n: usize = shape.iter().product();
    macro_rules! collect {
        ($t:ty, $conv:expr) => {{
            let mut out: Vec<$t> = Vec::new();
            out.try_reserve_exact(n)
                .map_err(|_| Error::Memory(what()))?;
            let conv = $conv;
            read(&mut |x, i| out.push(conv(x, i)))?;
            if out.len() != n {
                return Err(Error::io(
                    what(),
                    format!("read {} values, not {n}", out.len()),
                ));
            }
            <$t>::into_chunk(ArrayD::from_shape_vec(IxDyn(shape), out).map_err(Error::internal)?)
        }};
    }
    Ok(match (decode, dtype) {
        (Some(d), DType::F32) => collect!(f32, |x: f64, _| d.value(x) as f32),
        (Some(d), _) => collect!(f64, |x: f64, _| d.value(x)),
        (None, DType::F32) => collect!(f32, |x: f64, _| x as f32),
        (None, DType::F64) => collect!(f64, |x: f64, _| x),
        (None, DType::Bool) => collect!(bool, |x: f64, _| x != 0.0),
        (None, DType::I64) => collect!(i64, |x: f64, i: Option<i64>| i.unwrap_or(x as i64)),
    })
}

/// What a NetCDF file being written holds: variables in order, the data of each either known
/// now (coordinates, written with the header) or written chunk by chunk.
pub(crate) struct NcLayout {
    pub dims: Vec<(String, usize)>,
    pub attrs: Attrs,
    pub vars: Vec<NcOut>,
}

/// A variable to write.
pub(crate) struct NcOut {
    pub name: String,
    pub dims: Vec<usize>,
    pub attrs: Attrs,
    pub stored: Stored,
    /// Stored numbers known now (already encoded), or none for a data variable written by
    /// chunks.
    pub eager: Option<Vec<f64>>,
    /// Text for a `char` variable.
    pub text: Option<Vec<u8>>,
}

impl NcLayout {
    fn shape(&self, v: &NcOut) -> Vec<usize> {
        v.dims.iter().map(|&d| self.dims[d].1).collect()
    }

    /// The header bytes and each variable's begin offset.
    pub fn header(&self) -> Result<(Vec<u8>, Vec<u64>, u64)> {
        let build = |begins: &[u64]| -> Result<Vec<u8>> {
            let mut h = Vec::new();
            h.extend_from_slice(b"CDF\x02");
            h.extend_from_slice(&0u32.to_be_bytes());
            let name = |h: &mut Vec<u8>, s: &str| {
                h.extend_from_slice(&(s.len() as u32).to_be_bytes());
                h.extend_from_slice(s.as_bytes());
                h.resize(h.len() + (4 - s.len() % 4) % 4, 0);
            };
            if self.dims.is_empty() {
                h.extend_from_slice(&[0; 8]);
            } else {
                h.extend_from_slice(&NC_DIMENSION.to_be_bytes());
                h.extend_from_slice(&(self.dims.len() as u32).to_be_bytes());
                for (n, len) in &self.dims {
                    name(&mut h, n);
                    let len = u32::try_from(*len).map_err(|_| {
                        Error::InvalidArgument(format!(
                            "the dimension {n:?} of length {len} is too long for NetCDF-3"
                        ))
                    })?;
                    h.extend_from_slice(&len.to_be_bytes());
                }
            }
            let attrs = |h: &mut Vec<u8>, a: &Attrs| {
                if a.is_empty() {
                    h.extend_from_slice(&[0; 8]);
                    return;
                }
                h.extend_from_slice(&NC_ATTRIBUTE.to_be_bytes());
                h.extend_from_slice(&(a.len() as u32).to_be_bytes());
                for (n, v) in a.iter() {
                    name(h, n);
                    let (code, count, bytes) = attr_bytes(v);
                    h.extend_from_slice(&code.to_be_bytes());
                    h.extend_from_slice(&(count as u32).to_be_bytes());
                    h.extend_from_slice(&bytes);
                    h.resize(h.len() + (4 - bytes.len() % 4) % 4, 0);
                }
            };
            attrs(&mut h, &self.attrs);
            if self.vars.is_empty() {
                h.extend_from_slice(&[0; 8]);
            } else {
                h.extend_from_slice(&NC_VARIABLE.to_be_bytes());
                h.extend_from_slice(&(self.vars.len() as u32).to_be_bytes());
                for (v, &begin) in self.vars.iter().zip(begins) {
                    name(&mut h, &v.name);
                    h.extend_from_slice(&(v.dims.len() as u32).to_be_bytes());
                    for &d in &v.dims {
                        h.extend_from_slice(&(d as u32).to_be_bytes());
                    }
                    attrs(&mut h, &v.attrs);
                    h.extend_from_slice(&nc_code(v.stored).to_be_bytes());
                    let size = padded(self.bytes(v));
                    // A variable of 4 GiB or more says so with the largest size (allowed for
                    // the last one).
                    h.extend_from_slice(&u32::try_from(size).unwrap_or(u32::MAX).to_be_bytes());
                    h.extend_from_slice(&begin.to_be_bytes());
                }
            }
            Ok(h)
        };
        let len = build(&vec![0; self.vars.len()])?.len() as u64;
        let mut begins = Vec::new();
        let mut at = len;
        for v in &self.vars {
            begins.push(at);
            at += padded(self.bytes(v));
        }
        Ok((build(&begins)?, begins, at))
    }

    fn bytes(&self, v: &NcOut) -> u64 {
        self.shape(v).iter().map(|&d| d as u64).product::<u64>() * v.stored.size() as u64
    }
}

/// An attribute's NetCDF type, count and big-endian bytes.
fn attr_bytes(v: &AttrValue) -> (u32, usize, Vec<u8>) {
    macro_rules! be {
        ($code:expr, $v:expr) => {
            (
                $code,
                $v.len(),
                $v.iter().flat_map(|x| x.to_be_bytes()).collect(),
            )
        };
    }
    match v {
        AttrValue::Text(s) => (2, s.len(), s.as_bytes().to_vec()),
        AttrValue::I8(x) => (1, x.len(), x.iter().map(|&b| b as u8).collect()),
        // NetCDF-3 has no unsigned or 64-bit types: they are stored as the nearest it has.
        AttrValue::U8(x) => be!(3u32, x.iter().map(|&b| i16::from(b)).collect::<Vec<_>>()),
        AttrValue::I16(x) => be!(3u32, x),
        AttrValue::U16(x) => be!(4u32, x.iter().map(|&b| i32::from(b)).collect::<Vec<_>>()),
        AttrValue::I32(x) => be!(4u32, x),
        AttrValue::U32(x) => be!(6u32, x.iter().map(|&b| f64::from(b)).collect::<Vec<_>>()),
        AttrValue::I64(x) => {
            if x.iter().all(|&b| i32::try_from(b).is_ok()) {
                be!(4u32, x.iter().map(|&b| b as i32).collect::<Vec<_>>())
            } else {
                be!(6u32, x.iter().map(|&b| b as f64).collect::<Vec<_>>())
            }
        }
        AttrValue::U64(x) => be!(6u32, x.iter().map(|&b| b as f64).collect::<Vec<_>>()),
        AttrValue::F32(x) => be!(5u32, x),
        AttrValue::F64(x) => be!(6u32, x),
    }
}

/// Stored numbers as big-endian bytes of `t`.
pub(crate) fn to_bytes(t: Stored, vals: impl Iterator<Item = f64>, out: &mut Vec<u8>) {
    for v in vals {
        match t {
            Stored::I8 | Stored::Bool => out.push(v as i8 as u8),
            Stored::U8 | Stored::Char => out.push(v as u8),
            Stored::I16 => out.extend_from_slice(&(v as i16).to_be_bytes()),
            Stored::U16 => out.extend_from_slice(&(v as u16).to_be_bytes()),
            Stored::I32 => out.extend_from_slice(&(v as i32).to_be_bytes()),
            Stored::U32 => out.extend_from_slice(&(v as u32).to_be_bytes()),
            Stored::I64 => out.extend_from_slice(&(v as i64).to_be_bytes()),
            Stored::U64 => out.extend_from_slice(&(v as u64).to_be_bytes()),
            Stored::F32 => out.extend_from_slice(&(v as f32).to_be_bytes()),
            Stored::F64 => out.extend_from_slice(&v.to_be_bytes()),
        }
    }
}

/// The file being written: created with its header and coordinates by the first task.
pub(crate) struct NcTarget {
    pub path: PathBuf,
    pub layout: NcLayout,
    pub begins: Vec<u64>,
    pub header: Vec<u8>,
    pub total: u64,
    /// The file, opened by the first writer of this process.
    file: Mutex<Option<Arc<std::fs::File>>>,
}

impl NcTarget {
    pub fn new(path: &Path, layout: NcLayout) -> Result<Arc<NcTarget>> {
        let (header, begins, total) = layout.header()?;
        Ok(Arc::new(NcTarget {
            path: path.to_path_buf(),
            layout,
            begins,
            header,
            total,
            file: Mutex::new(None),
        }))
    }

    fn what(&self) -> String {
        format!("writing the NetCDF file {}", self.path.display())
    }

    fn file(&self) -> Result<Arc<std::fs::File>> {
        let mut f = self.file.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(f) = &*f {
            return Ok(f.clone());
        }
        let opened = Arc::new(
            std::fs::OpenOptions::new()
                .write(true)
                .open(&self.path)
                .map_err(|e| Error::io(self.what(), e))?,
        );
        *f = Some(opened.clone());
        Ok(opened)
    }
}

impl Sink for NcTarget {
    fn kind(&self) -> &'static str {
        "netcdf"
    }
    fn target(&self) -> String {
        self.path.display().to_string()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("netcdf3-header");
        h.str(&self.path.to_string_lossy());
        h.usize(self.header.len());
        self.header.iter().for_each(|&b| h.u8(b));
    }
    fn create(&self) -> Result<()> {
        let what = || self.what();
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(what(), e))?;
        }
        let f = std::fs::File::create(&self.path).map_err(|e| Error::io(what(), e))?;
        f.set_len(self.total).map_err(|e| Error::io(what(), e))?;
        f.write_all_at(&self.header, 0)
            .map_err(|e| Error::io(what(), e))?;
        for (v, &begin) in self.layout.vars.iter().zip(&self.begins) {
            let mut bytes = Vec::new();
            if let Some(text) = &v.text {
                bytes.extend_from_slice(text);
            } else if let Some(vals) = &v.eager {
                to_bytes(v.stored, vals.iter().copied(), &mut bytes);
            } else {
                continue;
            }
            f.write_all_at(&bytes, begin)
                .map_err(|e| Error::io(what(), e))?;
        }
        f.sync_data().map_err(|e| Error::io(what(), e))
    }
    fn write(&self, _: usize, _: &Chunk) -> Result<()> {
        Err(Error::internal("the NetCDF header takes no chunks"))
    }
}

/// The chunks of one data variable, encoded and written at their place.
pub(crate) struct NcVarSink {
    pub target: Arc<NcTarget>,
    pub var: usize,
    pub grid: ndtask_core::ChunkGrid,
    pub encode: Encode,
}

impl Sink for NcVarSink {
    fn kind(&self) -> &'static str {
        "netcdf"
    }
    fn target(&self) -> String {
        format!(
            "{}:{}",
            self.target.path.display(),
            self.target.layout.vars[self.var].name
        )
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("netcdf3-var");
        h.str(&self.target());
        self.grid.fingerprint(h);
        h.str(&format!("{:?}", self.encode));
    }
    fn create(&self) -> Result<()> {
        Ok(())
    }
    fn write(&self, block: usize, chunk: &Chunk) -> Result<()> {
        let v = &self.target.layout.vars[self.var];
        let what = || format!("writing chunk {block} of {}", self.target());
        let idx = self.grid.unravel(block);
        let start = self.grid.chunk_offset(&idx);
        let count = self.grid.chunk_shape(&idx);
        let shape = self.grid.shape();
        let nd = shape.len();
        let es = v.stored.size() as u64;
        let values: Vec<f64> = match chunk {
            Chunk::F64(a) => a.iter().copied().collect(),
            Chunk::F32(a) => a.iter().map(|&x| f64::from(x)).collect(),
            Chunk::I64(a) => a.iter().map(|&x| x as f64).collect(),
            Chunk::Bool(a) => a.iter().map(|&x| f64::from(u8::from(x))).collect(),
            _ => {
                return Err(Error::internal(
                    "a NetCDF variable chunk that is not an array",
                ))
            }
        };
        let mut stored = Vec::with_capacity(values.len());
        for x in values {
            stored.push(self.encode.stored(x, &v.name)?);
        }
        if count.contains(&0) {
            return Ok(());
        }
        let file = self.target.file()?;
        let begin = self.target.begins[self.var];
        if nd == 0 {
            let mut b = Vec::new();
            to_bytes(v.stored, stored.into_iter(), &mut b);
            return file
                .write_all_at(&b, begin)
                .map_err(|e| Error::io(what(), e));
        }
        // Runs along the last axes the chunk covers whole.
        let mut k = nd - 1;
        let mut run = count[k];
        while k > 0 && count[k] == shape[k] {
            k -= 1;
            run *= count[k];
        }
        let mut stride = vec![1u64; nd];
        for a in (0..nd - 1).rev() {
            stride[a] = stride[a + 1] * shape[a + 1] as u64;
        }
        let runs: usize = count[..k].iter().product();
        let mut o = vec![0usize; k];
        let mut bytes = Vec::with_capacity(run * es as usize);
        for r in 0..runs {
            let mut at: u64 = (start[k] as u64) * stride[k];
            for a in 0..k {
                at += (start[a] + o[a]) as u64 * stride[a];
            }
            bytes.clear();
            to_bytes(
                v.stored,
                stored[r * run..(r + 1) * run].iter().copied(),
                &mut bytes,
            );
            file.write_all_at(&bytes, begin + at * es)
                .map_err(|e| Error::io(what(), e))?;
            if k > 0 {
                let mut a = k - 1;
                o[a] += 1;
                while o[a] >= count[a] && a > 0 {
                    o[a] = 0;
                    a -= 1;
                    o[a] += 1;
                }
            }
        }
        Ok(())
    }
}
