//! NetCDF-4 (HDF5) files through the system libnetcdf (feature `netcdf`): the root group's
//! dimensions, variables and attributes, decoded as the NetCDF-3 reader decodes them; each chunk
//! reads its own hyperslab (libnetcdf serialises the calls).

use crate::attrs::{AttrValue, Attrs};
use crate::cf::{Decode, Encoding, Stored};
use crate::coords::{Coordinate, Coords, Labels};
use crate::dataset::Dataset;
use crate::io::{
    check_chunks, data_var, listed_coords, number_coord, read_lazily, var_chunks, ChunkSpec,
};
use crate::netcdf3::decode_chunk;
use ndtask_array::reader::{ChunkReader, FileStamp, Subset};
use ndtask_core::{Chunk, DType, Error, Fingerprint, Result};
use netcdf::types::{FloatType, IntType, NcVariableType};
use netcdf::AttributeValue;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn nc_err(what: String) -> impl FnOnce(netcdf::Error) -> Error {
    move |e| Error::io(what, e.to_string())
}

fn attr_value(v: AttributeValue) -> AttrValue {
    use AttributeValue as A;
    match v {
        A::Uchar(x) => AttrValue::U8(vec![x]),
        A::Uchars(x) => AttrValue::U8(x),
        A::Schar(x) => AttrValue::I8(vec![x]),
        A::Schars(x) => AttrValue::I8(x),
        A::Ushort(x) => AttrValue::U16(vec![x]),
        A::Ushorts(x) => AttrValue::U16(x),
        A::Short(x) => AttrValue::I16(vec![x]),
        A::Shorts(x) => AttrValue::I16(x),
        A::Uint(x) => AttrValue::U32(vec![x]),
        A::Uints(x) => AttrValue::U32(x),
        A::Int(x) => AttrValue::I32(vec![x]),
        A::Ints(x) => AttrValue::I32(x),
        A::Ulonglong(x) => AttrValue::U64(vec![x]),
        A::Ulonglongs(x) => AttrValue::U64(x),
        A::Longlong(x) => AttrValue::I64(vec![x]),
        A::Longlongs(x) => AttrValue::I64(x),
        A::Float(x) => AttrValue::F32(vec![x]),
        A::Floats(x) => AttrValue::F32(x),
        A::Double(x) => AttrValue::F64(vec![x]),
        A::Doubles(x) => AttrValue::F64(x),
        A::Str(x) => AttrValue::Text(x),
        A::Strs(x) => AttrValue::Text(x.join("\n")),
    }
}

fn attrs<'a>(
    list: impl Iterator<Item = netcdf::Attribute<'a>>,
    what: &dyn Fn() -> String,
) -> Result<Attrs> {
    let mut out = Attrs::new();
    for a in list {
        let name = a.name().to_string();
        let v = a
            .value()
            .map_err(nc_err(format!("{}: attribute {name:?}", what())))?;
        out.set(name, attr_value(v));
    }
    Ok(out)
}

/// The stored type of a variable; `None` for types ndtask does not read (compound, opaque,
/// enumerations, ragged arrays) and for variable-length strings.
fn stored(t: &NcVariableType) -> Option<Stored> {
    Some(match t {
        NcVariableType::Int(i) => match i {
            IntType::I8 => Stored::I8,
            IntType::U8 => Stored::U8,
            IntType::I16 => Stored::I16,
            IntType::U16 => Stored::U16,
            IntType::I32 => Stored::I32,
            IntType::U32 => Stored::U32,
            IntType::I64 => Stored::I64,
            IntType::U64 => Stored::U64,
        },
        NcVariableType::Float(FloatType::F32) => Stored::F32,
        NcVariableType::Float(FloatType::F64) => Stored::F64,
        NcVariableType::Char => Stored::Char,
        _ => return None,
    })
}

/// An open file, its path and when it was last changed (the fingerprint of what it holds).
struct Nc4File {
    file: netcdf::File,
    path: PathBuf,
    stamp: FileStamp,
}

impl Nc4File {
    fn var(&self, name: &str) -> Result<netcdf::Variable<'_>> {
        self.file.variable(name).ok_or_else(|| {
            Error::io(
                format!("reading the NetCDF-4 file {}", self.path.display()),
                format!("the variable {name:?} is gone"),
            )
        })
    }

    /// The stored numbers of the region `start`/`count` of `name`, as `f64` and, for
    /// integers, `i64`.
    fn numbers(
        &self,
        name: &str,
        stored: Stored,
        start: &[usize],
        count: &[usize],
        push: &mut dyn FnMut(f64, Option<i64>),
    ) -> Result<()> {
        let v = self.var(name)?;
        let what = || {
            format!(
                "reading {name:?} from the NetCDF-4 file {}",
                self.path.display()
            )
        };
        let ext: netcdf::Extents = (start, count).try_into().map_err(nc_err(what()))?;
        if stored.is_int() && stored != Stored::U64 {
            let vals: Vec<i64> = v.get_values::<i64, _>(ext).map_err(nc_err(what()))?;
            vals.into_iter().for_each(|x| push(x as f64, Some(x)));
        } else {
            let vals: Vec<f64> = v.get_values::<f64, _>(ext).map_err(nc_err(what()))?;
            vals.into_iter().for_each(|x| push(x, None));
        }
        Ok(())
    }
}

/// Reads a data variable's chunks, decoding them as they are converted.
struct Nc4Reader {
    file: Arc<Nc4File>,
    var: String,
    stored: Stored,
    decode: Option<Decode>,
    dtype: DType,
}

impl ChunkReader for Nc4Reader {
    fn name(&self) -> String {
        format!("netcdf4:{}:{}", self.file.path.display(), self.var)
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("netcdf4");
        h.str(&self.file.path.to_string_lossy());
        self.file.stamp.fingerprint(h);
        h.str(&self.var);
        h.str(&format!("{:?}", self.decode));
    }
    fn dtype(&self) -> DType {
        self.dtype
    }
    fn stored_dtype(&self) -> String {
        self.stored.name().to_string()
    }
    fn read(&self, region: &Subset) -> Result<Chunk> {
        let what = || format!("{} values of {}", region.len(), self.name());
        decode_chunk(
            &region.shape,
            self.decode.as_ref(),
            self.dtype,
            what,
            &mut |push| {
                if region.is_empty() {
                    return Ok(());
                }
                self.file
                    .numbers(&self.var, self.stored, &region.start, &region.shape, push)
            },
        )
    }
}

/// Opens a NetCDF-4 file as a dataset (see [`crate::open_dataset`]): the root group.
pub(crate) fn open(path: &Path, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    let what = || format!("opening the NetCDF-4 file {}", path.display());
    let stamp = FileStamp::of(&std::fs::metadata(path).map_err(|e| Error::io(what(), e))?);
    let file = netcdf::open(path).map_err(nc_err(what()))?;
    let file = Arc::new(Nc4File {
        file,
        path: path.to_path_buf(),
        stamp,
    });
    let dims: Vec<String> = file.file.dimensions().map(|d| d.name()).collect();
    check_chunks(chunks, &dims, path)?;
    let mut ds = Dataset::new();
    ds.attrs = attrs(file.file.attributes(), &what)?;
    struct Var {
        name: String,
        dims: Vec<String>,
        shape: Vec<usize>,
        stored: Option<Stored>,
        text: bool,
        attrs: Attrs,
    }
    let mut vars = Vec::new();
    for v in file.file.variables() {
        let name = v.name();
        let vwhat = || format!("{}: variable {name:?}", what());
        let t = v.vartype();
        vars.push(Var {
            dims: v.dimensions().iter().map(|d| d.name()).collect(),
            shape: v.dimensions().iter().map(|d| d.len()).collect(),
            stored: stored(&t),
            text: matches!(t, NcVariableType::String),
            attrs: attrs(v.attributes(), &vwhat)?,
            name,
        });
    }
    let mut listed: Vec<String> = Vec::new();
    for v in &vars {
        listed.extend(listed_coords(&v.attrs));
    }
    let mut coords = Coords::default();
    for v in vars {
        let is_index = v.dims.len() == 1 && v.dims[0] == v.name;
        let is_coord = is_index || (listed.contains(&v.name) && v.dims.len() <= 1);
        let vwhat = || {
            format!(
                "reading {:?} from the NetCDF-4 file {}",
                v.name,
                path.display()
            )
        };
        // Text: strings along one dimension (variable-length, or characters along a second).
        let text: Option<Vec<String>> = if v.text && v.dims.len() == 1 {
            let var = file.var(&v.name)?;
            let mut t = Vec::with_capacity(v.shape[0]);
            for i in 0..v.shape[0] {
                t.push(var.get_string([i]).map_err(nc_err(vwhat()))?);
            }
            Some(t)
        } else if v.stored == Some(Stored::Char) && v.dims.len() == 2 {
            let var = file.var(&v.name)?;
            let bytes = var.get_raw_values(..).map_err(nc_err(vwhat()))?;
            let width = v.shape[1].max(1);
            Some(
                bytes
                    .chunks(width)
                    .map(|c| {
                        String::from_utf8_lossy(c)
                            .trim_end_matches('\0')
                            .to_string()
                    })
                    .collect(),
            )
        } else {
            None
        };
        if let Some(t) = text {
            let mut c = Coordinate::new(v.dims[0].clone(), Labels::Str(t));
            c.attrs = v.attrs;
            coords.set(v.name, c);
            continue;
        }
        // Other types (compound, opaque, enumerations, ragged arrays, scalar text) are not
        // read, as the NetCDF-3 reader leaves text that is not a coordinate.
        let Some(stored) = v.stored.filter(|s| *s != Stored::Char) else {
            continue;
        };
        let mut attrs = v.attrs;
        if is_coord {
            let (mut nums, mut ints) = (Vec::new(), stored.is_int().then(Vec::new));
            let start = vec![0; v.shape.len()];
            if !v.shape.contains(&0) {
                file.numbers(&v.name, stored, &start, &v.shape, &mut |x, i| {
                    nums.push(x);
                    if let (Some(ints), Some(i)) = (ints.as_mut(), i) {
                        ints.push(i);
                    }
                })?;
            }
            coords.set(v.name, number_coord(&v.dims, nums, ints, stored, attrs));
            continue;
        }
        attrs.remove("coordinates");
        let mut enc = Encoding::default();
        let decode = Decode::plan(stored, &mut attrs, &mut enc);
        let dtype = decode.as_ref().map_or(stored.dtype(), |d| d.target);
        let c = var_chunks(&v.dims, &v.shape, chunks)?;
        let reader = Nc4Reader {
            file: file.clone(),
            var: v.name.clone(),
            stored,
            decode,
            dtype,
        };
        let data = read_lazily(reader, dtype, &v.shape, c)?;
        ds.vars.push(data_var(&v.name, &v.dims, data, attrs, enc)?);
    }
    ds.coords = coords;
    Ok(ds)
}
