//! What reading and writing datasets share (chunking by dimension name, coordinates and data
//! variables from stored numbers, CF encoding), NetCDF-3 read and written; which format a path
//! holds is decided in `open.rs`.

use crate::attrs::{AttrValue, Attrs};
use crate::cf::{Decode, Encode, Encoding, Stored};
use crate::coords::decode_labels;
use crate::coords::{Coordinate, Coords, Labels};
use crate::dataarray::{chunks_by_name, DataArray};
use crate::dataset::Dataset;
use crate::netcdf3::{NcFile, NcLayout, NcOut, NcReader, NcTarget, NcVarSink};
use crate::time::{TimeUnits, NAT};
use ndtask_array::collection::Write;
use ndtask_array::reader::{from_reader, ChunkReader};
use ndtask_array::sink::{write_many, Sink};
use ndtask_array::AnyArray;
use ndtask_core::{Chunks, DType, Error, Result};
use std::path::Path;
use std::sync::Arc;

/// Chunk sizes by dimension name, as Xarray's `chunks={"lat": 25, "time": -1}`: `-1` for the
/// whole dimension; dimensions not named are whole (NetCDF) or keep the store's chunks (Zarr).
pub type ChunkSpec<'a> = &'a [(&'a str, i64)];

/// Checks that every dimension `chunks` names is one of `dims`.
pub(crate) fn check_chunks(chunks: ChunkSpec<'_>, dims: &[String], path: &Path) -> Result<()> {
    for (d, _) in chunks {
        if !dims.iter().any(|x| x == d) {
            return Err(Error::InvalidArgument(format!(
                "chunks names the dimension {d:?}, which {} does not have: its dimensions are {}",
                path.display(),
                dims.join(", ")
            )));
        }
    }
    Ok(())
}

/// The chunks of a variable of `dims` and `shape`: by name, whole elsewhere (`chunks` may name
/// dimensions of the file's other variables; [`check_chunks`] checks them against the file).
pub(crate) fn var_chunks(
    dims: &[String],
    shape: &[usize],
    chunks: ChunkSpec<'_>,
) -> Result<Vec<Vec<usize>>> {
    let whole: Vec<Vec<usize>> = shape
        .iter()
        .map(|&n| if n == 0 { vec![] } else { vec![n] })
        .collect();
    let mine: Vec<(&str, i64)> = chunks
        .iter()
        .copied()
        .filter(|(d, _)| dims.iter().any(|x| x == d))
        .collect();
    chunks_by_name(dims, shape, &whole, &mine)
}

/// The `coordinates` attribute of a data variable of `ds` as CF writes it: the names of the
/// dataset's coordinates that are not a dimension's own and lie along the variable's
/// dimensions (or are scalars).
pub(crate) fn coordinates_attr(ds: &Dataset, v: &DataArray) -> Option<String> {
    let mine: Vec<&str> = ds
        .coords
        .iter()
        .filter(|(n, c)| {
            c.dim.as_deref() != Some(*n) && c.dim.as_ref().is_none_or(|d| v.dims.contains(d))
        })
        .map(|(n, _)| n)
        .collect();
    (!mine.is_empty()).then(|| mine.join(" "))
}

/// The names a data variable's `coordinates` attribute lists.
pub(crate) fn listed_coords(attrs: &Attrs) -> Vec<String> {
    attrs
        .get("coordinates")
        .and_then(AttrValue::as_text)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Opens a NetCDF-3 file ([`crate::open_dataset`]).
pub(crate) fn open_netcdf3(path: &Path, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    let file = Arc::new(NcFile::open(path)?);
    let dims: Vec<String> = file.dims.iter().map(|d| d.name.clone()).collect();
    check_chunks(chunks, &dims, path)?;
    let mut listed: Vec<String> = Vec::new();
    for v in &file.vars {
        listed.extend(listed_coords(&v.attrs));
    }
    let mut ds = Dataset::new();
    ds.attrs = file.attrs.clone();
    let mut coords = Coords::default();
    for (i, v) in file.vars.iter().enumerate() {
        let vdims = file.dim_names(i);
        let is_index = vdims.len() == 1 && vdims[0] == v.name;
        let is_text_index = v.stored == Stored::Char && vdims.len() == 2 && vdims[0] == v.name;
        let is_listed = listed.contains(&v.name) && vdims.len() <= 1;
        if v.stored == Stored::Char {
            if vdims.is_empty() || vdims.len() > 2 {
                continue;
            }
            let text = file.read_text(i)?;
            let mut c = Coordinate::new(vdims[0].clone(), Labels::Str(text));
            c.attrs = v.attrs.clone();
            c.encoding.dtype = Some(Stored::Char);
            if vdims.len() == 1 {
                // A single string.
                let Labels::Str(t) = &c.labels else { continue };
                c = Coordinate::scalar(&crate::coords::Label::Str(t.concat()));
                c.attrs = v.attrs.clone();
            }
            if is_text_index || vdims.len() == 2 {
                coords.set(v.name.clone(), c);
            }
            continue;
        }
        if is_index || is_listed {
            let (nums, ints) = file.read_all(i)?;
            let c = number_coord(&vdims, nums, ints, v.stored, v.attrs.clone());
            coords.set(v.name.clone(), c);
            continue;
        }
        let mut attrs = v.attrs.clone();
        attrs.remove("coordinates");
        let mut enc = Encoding::default();
        let decode = Decode::plan(v.stored, &mut attrs, &mut enc);
        let dtype = decode.as_ref().map_or(v.stored.dtype(), |d| d.target);
        let shape = file.shape(i);
        let c = var_chunks(&vdims, &shape, chunks)?;
        let reader = NcReader {
            file: file.clone(),
            var: i,
            decode,
            dtype,
        };
        let data = read_lazily(reader, dtype, &shape, c)?;
        ds.vars.push(data_var(&v.name, &vdims, data, attrs, enc)?);
    }
    ds.coords = coords;
    Ok(ds)
}

/// A coordinate of numbers read from a file (`ints` as well for integers), decoded (time units
/// to datetimes) with the attributes decoding leaves.
pub(crate) fn number_coord(
    dims: &[String],
    nums: Vec<f64>,
    ints: Option<Vec<i64>>,
    stored: Stored,
    mut attrs: Attrs,
) -> Coordinate {
    let mut encoding = Encoding::default();
    let labels = decode_labels(nums, ints, stored, &mut attrs, &mut encoding);
    Coordinate {
        dim: dims.first().cloned(),
        labels,
        attrs,
        encoding,
    }
}

/// The lazy array a reader of element type `dtype` reads, in `chunks`.
pub(crate) fn read_lazily(
    reader: impl ChunkReader,
    dtype: DType,
    shape: &[usize],
    chunks: Vec<Vec<usize>>,
) -> Result<AnyArray> {
    let c = Chunks::Explicit(chunks);
    Ok(match dtype {
        DType::F64 => from_reader::<f64>(reader, shape, c)?.into(),
        DType::F32 => from_reader::<f32>(reader, shape, c)?.into(),
        DType::I64 => from_reader::<i64>(reader, shape, c)?.into(),
        DType::Bool => from_reader::<bool>(reader, shape, c)?.into(),
    })
}

/// A data variable read from a file: `data` along `dims`, named, with the attributes and
/// encoding decoding left.
pub(crate) fn data_var(
    name: &str,
    dims: &[String],
    data: AnyArray,
    attrs: Attrs,
    encoding: Encoding,
) -> Result<(String, DataArray)> {
    let refs: Vec<&str> = dims.iter().map(String::as_str).collect();
    let mut da = DataArray::new(data, &refs)?;
    da.attrs = attrs;
    da.encoding = encoding;
    Ok((name.to_string(), da.with_name(name)))
}

/// The numbers and stored type of a coordinate's labels, and the attributes their encoding
/// adds.
pub(crate) fn encode_labels(c: &Coordinate, nc3: bool) -> Result<(Vec<f64>, Stored, Attrs)> {
    let mut attrs = c.attrs.clone();
    let fits_i32 = |v: &[f64]| {
        v.iter()
            .all(|x| x.fract() == 0.0 && x.abs() < 2_147_483_648.0)
    };
    Ok(match &c.labels {
        Labels::Time(t) => {
            let units = c
                .encoding
                .units
                .as_deref()
                .and_then(TimeUnits::parse)
                .unwrap_or_else(|| TimeUnits::infer(t));
            let nums: Vec<f64> = t.iter().map(|&x| units.encode(x)).collect();
            let has_nat = t.contains(&NAT);
            let stored = match c.encoding.dtype {
                Some(s) if s != Stored::Char => s,
                _ if !has_nat && fits_i32(&nums) => {
                    if nc3 {
                        Stored::I32
                    } else {
                        Stored::I64
                    }
                }
                _ => Stored::F64,
            };
            attrs.set("units", units.format());
            attrs.set(
                "calendar",
                c.encoding
                    .calendar
                    .clone()
                    .unwrap_or_else(|| "proleptic_gregorian".into()),
            );
            if has_nat || c.encoding.fill_value.is_some() {
                if stored.is_int() {
                    attrs.set("_FillValue", stored.attr(-2_147_483_647.0));
                } else {
                    attrs.set("_FillValue", stored.attr(f64::NAN));
                }
            }
            let fill = attrs.get("_FillValue").and_then(AttrValue::as_f64);
            let nums = nums
                .into_iter()
                .map(|x| {
                    if x.is_nan() {
                        fill.unwrap_or(f64::NAN)
                    } else {
                        x
                    }
                })
                .collect();
            (nums, stored, attrs)
        }
        Labels::F64(v) => (
            v.clone(),
            c.encoding
                .dtype
                .filter(|s| !s.is_int())
                .unwrap_or(Stored::F64),
            attrs,
        ),
        Labels::F32(v) => (
            v.iter().map(|&x| f64::from(x)).collect(),
            Stored::F32,
            attrs,
        ),
        Labels::I64(v) => {
            let nums: Vec<f64> = v.iter().map(|&x| x as f64).collect();
            let stored = match c.encoding.dtype {
                Some(s) if s.is_int() && (!nc3 || s.size() <= 4) => s,
                _ if nc3 && fits_i32(&nums) => Stored::I32,
                _ if nc3 => Stored::F64,
                _ => Stored::I64,
            };
            (nums, stored, attrs)
        }
        Labels::Str(_) => (Vec::new(), Stored::Char, attrs),
    })
}

/// The stored type and encoding of a data variable for NetCDF-3.
fn nc3_stored(da: &DataArray) -> Stored {
    let natural = match da.dtype() {
        DType::F64 => Stored::F64,
        DType::F32 => Stored::F32,
        DType::I64 => Stored::I32,
        DType::Bool => Stored::I8,
    };
    match da.encoding.dtype {
        Some(s)
            if !matches!(
                s,
                Stored::Char
                    | Stored::Bool
                    | Stored::I64
                    | Stored::U64
                    | Stored::U32
                    | Stored::U16
                    | Stored::U8
            ) =>
        {
            s
        }
        _ => natural,
    }
}

/// The encoding attributes (`scale_factor`, `add_offset`, `_FillValue`, `missing_value`) a
/// variable is written with.
pub(crate) fn encoding_attrs(attrs: &mut Attrs, enc: &Encoding) {
    for (n, v) in [
        ("scale_factor", &enc.scale_factor),
        ("add_offset", &enc.add_offset),
        ("_FillValue", &enc.fill_value),
        ("missing_value", &enc.missing_value),
    ] {
        if let Some(v) = v {
            attrs.set(n, v.clone());
        }
    }
}

impl Dataset {
    /// The lazy write of the dataset as a NetCDF-3 file (64-bit offset format), with the
    /// encoding each variable was read with (packed integers, fill values, time units) or the
    /// natural one (`i64` as NetCDF's 32-bit `int`, checked; datetimes in the coarsest units
    /// that hold them). Xarray reads it back with the same dimensions, coordinates, attributes
    /// and values. The header and coordinates are written by one task, then each chunk by the
    /// task that computed it.
    ///
    /// # Errors
    /// A dimension too long for NetCDF-3; a variable's error. Computing the write fails,
    /// naming the variable, on a value its stored type cannot hold.
    pub fn to_netcdf(&self, path: impl AsRef<Path>) -> Result<Write> {
        let path = path.as_ref();
        let mut dims: Vec<(String, usize)> = self.dims();
        let dim_id = |dims: &Vec<(String, usize)>, d: &str| dims.iter().position(|(x, _)| x == d);
        let mut vars: Vec<NcOut> = Vec::new();
        let mut data: Vec<(AnyArray, usize, Encode)> = Vec::new();
        let index_first = {
            let mut names: Vec<String> = dims
                .iter()
                .filter(|(d, _)| self.coords.get(d).is_some())
                .map(|(d, _)| d.clone())
                .collect();
            for n in self.coords.names() {
                if !names.iter().any(|x| x == n) {
                    names.push(n.to_string());
                }
            }
            names
        };
        for n in &index_first {
            let n = n.as_str();
            let Some(c) = self.coords.get(n) else {
                continue;
            };
            let (nums, stored, mut attrs) = encode_labels(c, true)?;
            attrs.remove("_FillValue");
            if let Some(f) = &c.encoding.fill_value {
                if !matches!(c.labels, Labels::Time(_)) {
                    attrs.set("_FillValue", f.clone());
                }
            }
            if let Labels::Time(t) = &c.labels {
                if t.contains(&NAT) {
                    attrs.set(
                        "_FillValue",
                        if stored.is_int() {
                            stored.attr(-2_147_483_647.0)
                        } else {
                            stored.attr(f64::NAN)
                        },
                    );
                }
            }
            let mut vdims: Vec<usize> = c.dim.iter().filter_map(|d| dim_id(&dims, d)).collect();
            if let Labels::Str(s) = &c.labels {
                let width = s.iter().map(String::len).max().unwrap_or(0).max(1);
                let sd = format!("string{width}");
                if dim_id(&dims, &sd).is_none() {
                    dims.push((sd.clone(), width));
                }
                vdims.push(dim_id(&dims, &sd).unwrap_or(0));
                let mut text = Vec::with_capacity(s.len() * width);
                for x in s {
                    let mut b = x.as_bytes().to_vec();
                    b.resize(width, 0);
                    text.extend_from_slice(&b);
                }
                vars.push(NcOut {
                    name: n.to_string(),
                    dims: vdims,
                    attrs,
                    stored,
                    eager: None,
                    text: Some(text),
                });
                continue;
            }
            vars.push(NcOut {
                name: n.to_string(),
                dims: vdims,
                attrs,
                stored,
                eager: Some(nums),
                text: None,
            });
        }
        for (name, v) in &self.vars {
            let stored = nc3_stored(v);
            let mut attrs = v.attrs.clone();
            let enc = if v.encoding.dtype == Some(stored) {
                v.encoding.clone()
            } else {
                Encoding {
                    dtype: Some(stored),
                    ..Encoding::default()
                }
            };
            encoding_attrs(&mut attrs, &enc);
            if let Some(listed) = coordinates_attr(self, v) {
                attrs.set("coordinates", listed);
            }
            let vdims = v
                .dims
                .iter()
                .map(|d| dim_id(&dims, d).unwrap_or(0))
                .collect();
            data.push((v.data.clone(), vars.len(), Encode::new(stored, &enc)));
            vars.push(NcOut {
                name: name.clone(),
                dims: vdims,
                attrs,
                stored,
                eager: None,
                text: None,
            });
        }
        let layout = NcLayout {
            dims,
            attrs: self.attrs.clone(),
            vars,
        };
        let target = NcTarget::new(path, layout)?;
        let parts = data
            .into_iter()
            .map(|(d, var, encode)| {
                let grid = d.grid().clone();
                let sink: Arc<dyn Sink> = Arc::new(NcVarSink {
                    target: target.clone(),
                    var,
                    grid,
                    encode,
                });
                (d, sink)
            })
            .collect();
        write_many(target, parts)
    }
}

impl DataArray {
    /// This array as a dataset of one variable (named as the array, or `"data"`), with its
    /// coordinates.
    ///
    /// # Errors
    /// Never for an array built by ndtask; kept for coordinates that do not fit.
    pub fn to_dataset(&self) -> Result<Dataset> {
        let name = self.name.clone().unwrap_or_else(|| "data".into());
        Dataset::new().with_var(&name, self.clone())
    }

    /// The lazy write of the array as a NetCDF-3 file (see [`Dataset::to_netcdf`]).
    ///
    /// # Errors
    /// As [`Dataset::to_netcdf`].
    pub fn to_netcdf(&self, path: impl AsRef<Path>) -> Result<Write> {
        self.to_dataset()?.to_netcdf(path)
    }
}
