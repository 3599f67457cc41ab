//! Zarr groups as Xarray writes them (formats 2 and 3): each variable an array of the group,
//! its dimensions in `_ARRAY_DIMENSIONS` (format 2) or `dimension_names` (format 3), CF
//! attributes decoded as for NetCDF.

use crate::attrs::{AttrValue, Attrs};
use crate::cf::{Decode, Encoding, Stored};
use crate::coords::{Coordinate, Coords, Labels};
use crate::dataarray::chunks_by_name;
use crate::dataset::Dataset;
use crate::io::{check_chunks, coordinates_attr, data_var, encode_labels, number_coord, ChunkSpec};
use ndtask_array::collection::Write;
use ndtask_array::sink::{write_many, Sink};
use ndtask_array::{
    from_ndarray, open_zarr, read_zarr_text, write_zarr_text, AnyArray, AnyNdArray, Typed,
    ZarrFill, ZarrFormat, ZarrOptions,
};
use ndtask_core::{Chunks, DType, Error, Fingerprint, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Xarray's `_FillValue` of a float variable in format 3: NaN's eight bytes in base64.
const NAN_BASE64: &str = "AAAAAAAA+H8=";

fn read_json(path: &Path) -> Result<Value> {
    let what = || format!("reading the Zarr metadata {}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(what(), e))?;
    serde_json::from_str(&quote_specials(&text)).map_err(|e| Error::io(what(), e))
}

/// Python's `json` writes `NaN`, `Infinity` and `-Infinity` bare (zarr-python 2 does, in
/// `.zattrs`); JSON has no such numbers: they are quoted, as Zarr's metadata spells them.
fn quote_specials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '"' {
            in_string = true;
        }
        let special = ["-Infinity", "Infinity", "NaN"]
            .into_iter()
            .find(|w| rest.starts_with(w));
        if let Some(w) = special {
            out.push('"');
            out.push_str(w);
            out.push('"');
            rest = &rest[w.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Bytes of standard base64, or `None` for a character outside its alphabet (lenient: padding
/// is optional and leftover bits are dropped).
fn base64(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        })
    };
    let s = s.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for &c in s {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// An attribute from JSON: text, numbers (integers as `i64`), lists of numbers; anything else
/// as its JSON text.
fn attr_of(v: &Value) -> AttrValue {
    let ints = |a: &[Value]| a.iter().map(Value::as_i64).collect::<Option<Vec<i64>>>();
    let floats = |a: &[Value]| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>();
    match v {
        // Zarr spells the float specials as strings.
        Value::String(s) if s == "NaN" => AttrValue::F64(vec![f64::NAN]),
        Value::String(s) if s == "Infinity" => AttrValue::F64(vec![f64::INFINITY]),
        Value::String(s) if s == "-Infinity" => AttrValue::F64(vec![f64::NEG_INFINITY]),
        Value::String(s) => AttrValue::Text(s.clone()),
        Value::Bool(b) => AttrValue::I8(vec![i8::from(*b)]),
        Value::Number(n) => match n.as_i64() {
            Some(i) => AttrValue::I64(vec![i]),
            None => AttrValue::F64(vec![n.as_f64().unwrap_or(f64::NAN)]),
        },
        Value::Array(a) if !a.is_empty() => match (ints(a), floats(a)) {
            (Some(i), _) => AttrValue::I64(i),
            (None, Some(f)) => AttrValue::F64(f),
            _ => AttrValue::Text(v.to_string()),
        },
        other => AttrValue::Text(other.to_string()),
    }
}

/// An attribute as JSON: NaN and infinities as Zarr writes them ("NaN", "Infinity").
fn json_of(v: &AttrValue) -> Value {
    let num = |x: f64| -> Value {
        if x.is_nan() {
            "NaN".into()
        } else if x.is_infinite() {
            if x > 0.0 { "Infinity" } else { "-Infinity" }.into()
        } else if x.fract() == 0.0
            && x.abs() < 9.0e15
            && !matches!(v, AttrValue::F32(_) | AttrValue::F64(_))
        {
            Value::from(x as i64)
        } else {
            Value::from(x)
        }
    };
    match v {
        AttrValue::Text(s) => Value::String(s.clone()),
        AttrValue::I64(x) if x.len() == 1 => Value::from(x[0]),
        AttrValue::U64(x) if x.len() == 1 => Value::from(x[0]),
        // Integers as themselves (beyond 2^53 a float would round them).
        AttrValue::I64(x) => Value::from(x.clone()),
        AttrValue::U64(x) => Value::from(x.clone()),
        _ => {
            let nums: Vec<Value> = v.to_f64s().into_iter().map(num).collect();
            if nums.len() == 1 {
                nums.into_iter().next().unwrap_or(Value::Null)
            } else {
                Value::Array(nums)
            }
        }
    }
}

fn attrs_of(v: &Value) -> Attrs {
    let mut a = Attrs::new();
    if let Some(m) = v.as_object() {
        for (k, x) in m {
            a.set(k.clone(), attr_of(x));
        }
    }
    a
}

fn json_attrs(a: &Attrs) -> Map<String, Value> {
    a.iter().map(|(k, v)| (k.to_string(), json_of(v))).collect()
}

/// What one array of a group is.
struct ZVar {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    /// `None` for byte strings.
    stored: Option<Stored>,
    attrs: Attrs,
}

/// A NumPy type code of format 2 (`"<f8"`, `"|i1"`) or a name of format 3 (`"float64"`) as a
/// stored type; `Ok(None)` for fixed-length byte strings.
fn stored_of(t: &Value, name: &str) -> Result<Option<Stored>> {
    let unknown = || {
        Error::InvalidArgument(format!(
            "the Zarr array {name:?} holds {t}, a data type ndtask does not read"
        ))
    };
    if let Some(s) = t.as_str() {
        let code = s.trim_start_matches(['<', '>', '|', '=']);
        if code.starts_with('S') {
            return Ok(None);
        }
        let numpy = match code {
            "f8" => "float64",
            "f4" => "float32",
            "i1" => "int8",
            "i2" => "int16",
            "i4" => "int32",
            "i8" => "int64",
            "u1" => "uint8",
            "u2" => "uint16",
            "u4" => "uint32",
            "u8" => "uint64",
            "b1" => "bool",
            other => other,
        };
        return Stored::parse(numpy)
            .filter(|s| *s != Stored::Char)
            .map(Some)
            .ok_or_else(unknown);
    }
    if t["name"] == "null_terminated_bytes" {
        return Ok(None);
    }
    Err(unknown())
}

/// The arrays of the group at `path`, with the group's attributes.
fn list(path: &Path) -> Result<(Attrs, Vec<ZVar>)> {
    let v3 = path.join("zarr.json");
    let v2 = path.join(".zgroup");
    let group_attrs = if v3.is_file() {
        let g = read_json(&v3)?;
        if g["node_type"] != "group" {
            return Err(Error::InvalidArgument(format!(
                "{} is a Zarr array, not a group of variables: open it with open_zarr",
                path.display()
            )));
        }
        attrs_of(&g["attributes"])
    } else if v2.is_file() {
        let a = path.join(".zattrs");
        if a.is_file() {
            attrs_of(&read_json(&a)?)
        } else {
            Attrs::new()
        }
    } else {
        return Err(Error::io(
            format!("opening the Zarr group {}", path.display()),
            "the directory has neither zarr.json nor .zgroup: it is not a Zarr group",
        ));
    };
    let what = || format!("listing the Zarr group {}", path.display());
    let mut names: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| Error::io(what(), e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    names.sort_unstable();
    let mut vars = Vec::new();
    for name in names {
        let dir = path.join(&name);
        let (meta, mut attrs, dims) = if dir.join("zarr.json").is_file() {
            let m = read_json(&dir.join("zarr.json"))?;
            if m["node_type"] != "array" {
                continue;
            }
            let attrs = attrs_of(&m["attributes"]);
            let dims: Option<Vec<String>> = m["dimension_names"].as_array().map(|d| {
                d.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_string())
                    .collect()
            });
            (m, attrs, dims)
        } else if dir.join(".zarray").is_file() {
            let m = read_json(&dir.join(".zarray"))?;
            let za = dir.join(".zattrs");
            let mut attrs = if za.is_file() {
                attrs_of(&read_json(&za)?)
            } else {
                Attrs::new()
            };
            let dims = attrs.remove("_ARRAY_DIMENSIONS").and_then(|d| match d {
                AttrValue::Text(t) => serde_json::from_str::<Vec<String>>(&t).ok(),
                _ => None,
            });
            (m, attrs, dims)
        } else {
            continue;
        };
        let v3 = meta["zarr_format"] == 3;
        let shape: Vec<usize> = meta["shape"]
            .as_array()
            .map(|s| s.iter().map(|x| x.as_u64().unwrap_or(0) as usize).collect())
            .unwrap_or_default();
        let dims = dims.filter(|d| d.len() == shape.len()).ok_or_else(|| {
            Error::InvalidArgument(format!(
                "the Zarr array {name:?} in {} names no dimensions ({} in format {}): Xarray \
                 writes them",
                path.display(),
                if v3 {
                    "dimension_names"
                } else {
                    "_ARRAY_DIMENSIONS"
                },
                if v3 { 3 } else { 2 }
            ))
        })?;
        let stored = stored_of(
            if v3 {
                &meta["data_type"]
            } else {
                &meta["dtype"]
            },
            &name,
        )?;
        // Format 3 keeps `_FillValue` as an attribute (floats as base64 bytes); format 2's
        // fill value is the one Xarray masks.
        if let (Some(s), Some(AttrValue::Text(b))) = (stored, attrs.get("_FillValue")) {
            let bytes = base64(b).unwrap_or_default();
            let f = match bytes.len() {
                8 => f64::from_le_bytes(bytes.try_into().unwrap_or([0; 8])),
                4 => f64::from(f32::from_le_bytes(bytes.try_into().unwrap_or([0; 4]))),
                _ => f64::NAN,
            };
            attrs.set("_FillValue", s.attr(f));
        }
        if let (false, Some(s)) = (v3, stored) {
            let fill = match &meta["fill_value"] {
                Value::Number(n) => n.as_f64(),
                Value::String(t) if t == "NaN" => Some(f64::NAN),
                Value::String(t) if t == "Infinity" => Some(f64::INFINITY),
                Value::String(t) if t == "-Infinity" => Some(f64::NEG_INFINITY),
                _ => None,
            };
            if let (Some(f), None) = (fill, attrs.get("_FillValue")) {
                attrs.set("_FillValue", s.attr(f));
            }
        }
        vars.push(ZVar {
            name,
            dims,
            shape,
            stored,
            attrs,
        });
    }
    Ok((group_attrs, vars))
}

/// The numbers of an array read whole: as `f64`, and as `i64` for integers.
fn numbers(a: AnyNdArray) -> (Vec<f64>, Option<Vec<i64>>) {
    match a {
        AnyNdArray::I64(v) => (
            v.iter().map(|&x| x as f64).collect(),
            Some(v.into_iter().collect()),
        ),
        AnyNdArray::Bool(v) => (v.iter().map(|&x| f64::from(u8::from(x))).collect(), None),
        other => (other.to_f64().into_iter().collect(), None),
    }
}

/// The array decoded lazily as `decode` says (masked, unpacked, as its target float type).
fn decoded(data: AnyArray, decode: Decode) -> AnyArray {
    let d = Arc::new(decode);
    macro_rules! go {
        ($a:expr, $t:ty) => {{
            let a = $a;
            let to_f64 = |v: $t| -> f64 { ndtask_core::Element::to_f64(v) };
            if d.target == DType::F32 {
                let d = d.clone();
                a.map(move |v| d.value(to_f64(v)) as f32).into()
            } else {
                let d = d.clone();
                a.map(move |v| d.value(to_f64(v))).into()
            }
        }};
    }
    match data.typed_view() {
        Typed::F64(a) => go!(a, f64),
        Typed::F32(a) => go!(a, f32),
        Typed::I64(a) => go!(a, i64),
        // Booleans are never packed.
        Typed::Bool(_) => data,
    }
}

/// Opens the Zarr group at `path` as a dataset (see [`crate::open_dataset`]).
pub(crate) fn open(path: &Path, chunks: ChunkSpec<'_>) -> Result<Dataset> {
    let (attrs, vars) = list(path)?;
    let mut dims: Vec<String> = Vec::new();
    for v in &vars {
        for d in &v.dims {
            if !dims.contains(d) {
                dims.push(d.clone());
            }
        }
    }
    check_chunks(chunks, &dims, path)?;
    let mut listed: Vec<String> = Vec::new();
    for v in &vars {
        if let Some(AttrValue::Text(t)) = v.attrs.get("coordinates") {
            listed.extend(t.split_whitespace().map(str::to_string));
        }
    }
    let mut ds = Dataset::new();
    ds.attrs = attrs;
    let mut coords = Coords::default();
    for v in vars {
        let array_path = format!("/{}", v.name);
        let is_coord = (v.dims.len() == 1 && v.dims[0] == v.name)
            || (listed.contains(&v.name) && v.dims.len() <= 1);
        let mut attrs = v.attrs;
        let Some(stored) = v.stored else {
            if !is_coord || v.dims.len() != 1 {
                return Err(Error::InvalidArgument(format!(
                    "the Zarr array {:?} in {} holds strings: ndtask reads them as a coordinate \
                     of one dimension, and it is not one",
                    v.name,
                    path.display()
                )));
            }
            let text = read_zarr_text(path, &array_path)?;
            attrs.remove("_Encoding");
            let mut c = Coordinate::new(v.dims[0].clone(), Labels::Str(text));
            c.attrs = attrs;
            coords.set(v.name, c);
            continue;
        };
        let data = open_zarr(path, &array_path)?;
        if is_coord {
            let (nums, ints) = numbers(data.compute()?);
            coords.set(v.name, number_coord(&v.dims, nums, ints, stored, attrs));
            continue;
        }
        attrs.remove("coordinates");
        let mut enc = Encoding::default();
        let data = match Decode::plan(stored, &mut attrs, &mut enc) {
            Some(d) => decoded(data, d),
            None => data,
        };
        let mine: Vec<(&str, i64)> = chunks
            .iter()
            .copied()
            .filter(|(d, _)| v.dims.iter().any(|x| x == d))
            .collect();
        let data = if mine.is_empty() {
            data
        } else {
            let c = chunks_by_name(&v.dims, &v.shape, &data.chunks(), &mine)?;
            data.rechunk(Chunks::Explicit(c))?
        };
        ds.vars.push(data_var(&v.name, &v.dims, data, attrs, enc)?);
    }
    ds.coords = coords;
    Ok(ds)
}

/// Prepares the group: replaces what was at the path (a Zarr store or an empty directory,
/// nothing else), writes the group's metadata and the string coordinates.
struct GroupSink {
    path: PathBuf,
    format: ZarrFormat,
    attrs: Map<String, Value>,
    text: Vec<TextCoord>,
}

/// A string coordinate the group's preparation writes.
#[derive(Debug)]
struct TextCoord {
    name: String,
    dim: String,
    labels: Vec<String>,
    attrs: Map<String, Value>,
}

impl Sink for GroupSink {
    fn kind(&self) -> &'static str {
        "zarr-group"
    }
    fn target(&self) -> String {
        self.path.display().to_string()
    }
    fn fingerprint(&self, h: &mut Fingerprint) {
        h.str("zarr-group");
        h.str(&self.path.to_string_lossy());
        h.str(&format!("{:?}{:?}{:?}", self.format, self.attrs, self.text));
    }
    fn create(&self) -> Result<()> {
        let what = || format!("creating the Zarr group {}", self.path.display());
        if self.path.exists() {
            // A store's root metadata must say it is one (a stray file of that name is not).
            let marker = |name: &str, format: u64| {
                let p = self.path.join(name);
                p.is_file() && read_json(&p).is_ok_and(|v| v["zarr_format"] == format)
            };
            let store = self.path.is_dir()
                && (marker("zarr.json", 3)
                    || marker(".zgroup", 2)
                    || std::fs::read_dir(&self.path)
                        .map_err(|e| Error::io(what(), e))?
                        .next()
                        .is_none());
            if !store {
                return Err(Error::io(
                    what(),
                    "something that is not a Zarr store is there; not replacing it",
                ));
            }
            std::fs::remove_dir_all(&self.path).map_err(|e| Error::io(what(), e))?;
        }
        std::fs::create_dir_all(&self.path).map_err(|e| Error::io(what(), e))?;
        let json = |v: Value| serde_json::to_string_pretty(&v).map_err(Error::internal);
        let attrs = Value::Object(self.attrs.clone());
        match self.format {
            ZarrFormat::V3 => {
                let g = serde_json::json!({"zarr_format": 3, "node_type": "group", "attributes": attrs});
                std::fs::write(self.path.join("zarr.json"), json(g)?)
                    .map_err(|e| Error::io(what(), e))?;
            }
            ZarrFormat::V2 => {
                std::fs::write(
                    self.path.join(".zgroup"),
                    json(serde_json::json!({"zarr_format": 2}))?,
                )
                .map_err(|e| Error::io(what(), e))?;
                std::fs::write(self.path.join(".zattrs"), json(attrs)?)
                    .map_err(|e| Error::io(what(), e))?;
            }
        }
        for TextCoord {
            name,
            dim,
            labels,
            attrs,
        } in &self.text
        {
            let options = ZarrOptions {
                format: self.format,
                attributes: attrs.clone(),
                dimension_names: Some(vec![dim.clone()]),
                ..ZarrOptions::default()
            };
            write_zarr_text(&self.path, &format!("/{name}"), labels, &options)?;
        }
        Ok(())
    }
    fn write(&self, _: usize, _: &ndtask_core::Chunk) -> Result<()> {
        Err(Error::internal("a Zarr group has no chunks of its own"))
    }
}

/// The options of one variable's array: attributes (with the dimensions in format 2),
/// dimension names (format 3), missing values as the fill value.
fn options(
    format: ZarrFormat,
    dims: &[String],
    mut attrs: Map<String, Value>,
    float: bool,
) -> ZarrOptions {
    attrs.remove("_FillValue");
    match format {
        ZarrFormat::V2 => {
            attrs.insert("_ARRAY_DIMENSIONS".into(), serde_json::json!(dims));
        }
        ZarrFormat::V3 if float => {
            attrs.insert("_FillValue".into(), NAN_BASE64.into());
        }
        ZarrFormat::V3 => {}
    }
    ZarrOptions {
        format,
        attributes: attrs,
        dimension_names: (format == ZarrFormat::V3).then(|| dims.to_vec()),
        fill: ZarrFill::Missing,
        ..ZarrOptions::default()
    }
}

impl Dataset {
    /// The lazy write of the dataset as a Zarr group (Xarray's `to_zarr(mode="w")`) in
    /// `format` 2 or 3: each variable an array of its chunks (zstd), missing values as the
    /// fill value (NaN), dimensions and attributes where Xarray keeps them, datetimes as
    /// integers with CF time units, strings as fixed-length bytes. Data variables are stored as
    /// the values they hold (a variable read packed is written unpacked). What was at the path
    /// (a Zarr store or an empty directory) is replaced; anything else is an error. The group's
    /// metadata and the coordinates' labels are written by one task, each chunk by the task
    /// that computed it.
    ///
    /// # Errors
    /// A scalar coordinate of strings (not written: a Zarr string array here has one
    /// dimension); a variable's error. Computing the write fails, naming the path, where
    /// something that is not a Zarr store is in the way or a chunk cannot be written.
    pub fn to_zarr(&self, path: impl AsRef<Path>, format: ZarrFormat) -> Result<Write> {
        let path = path.as_ref();
        let mut text = Vec::new();
        let mut parts: Vec<(AnyArray, Arc<dyn Sink>)> = Vec::new();
        for (name, c) in self.coords.iter() {
            let dims: Vec<String> = c.dim.iter().cloned().collect();
            if let Labels::Str(s) = &c.labels {
                let Some(d) = dims.first() else {
                    return Err(Error::InvalidArgument(format!(
                        "to_zarr: the scalar coordinate {name:?} holds a string, which ndtask writes \
                         only along a dimension (drop it, or keep it as an attribute)"
                    )));
                };
                let mut attrs = json_attrs(&c.attrs);
                attrs.insert("_Encoding".into(), "utf-8".into());
                text.push(TextCoord {
                    name: name.to_string(),
                    dim: d.clone(),
                    labels: s.clone(),
                    attrs,
                });
                continue;
            }
            let (nums, stored, attrs) = encode_labels(c, false)?;
            let shape: Vec<usize> = if dims.is_empty() {
                Vec::new()
            } else {
                vec![nums.len()]
            };
            let nd = ndarray::IxDyn(&shape);
            let chunk: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
            let what = |e: ndarray::ShapeError| Error::internal(format!("labels of {name}: {e}"));
            let (data, float): (AnyArray, bool) = match stored {
                Stored::F32 => {
                    let v = nums.iter().map(|&x| x as f32).collect();
                    (
                        from_ndarray(ndarray::ArrayD::from_shape_vec(nd, v).map_err(what)?, chunk)?
                            .into(),
                        true,
                    )
                }
                s if s.is_int() => {
                    let v = nums.iter().map(|&x| x as i64).collect();
                    (
                        from_ndarray(ndarray::ArrayD::from_shape_vec(nd, v).map_err(what)?, chunk)?
                            .into(),
                        false,
                    )
                }
                _ => (
                    from_ndarray(
                        ndarray::ArrayD::from_shape_vec(nd, nums).map_err(what)?,
                        chunk,
                    )?
                    .into(),
                    true,
                ),
            };
            let opts = options(format, &dims, json_attrs(&attrs), float);
            parts.push(data.zarr_sink(path, &format!("/{name}"), &opts)?);
        }
        for (name, v) in &self.vars {
            let mut attrs = v.attrs.clone();
            if let Some(listed) = coordinates_attr(self, v) {
                attrs.set("coordinates", listed);
            }
            let float = matches!(v.dtype(), DType::F64 | DType::F32);
            let opts = options(format, &v.dims, json_attrs(&attrs), float);
            parts.push(v.data.zarr_sink(path, &format!("/{name}"), &opts)?);
        }
        let group = GroupSink {
            path: path.to_path_buf(),
            format,
            attrs: json_attrs(&self.attrs),
            text,
        };
        write_many(Arc::new(group), parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_reads_what_xarray_writes_for_nan() {
        let b = base64(NAN_BASE64).unwrap();
        assert!(f64::from_le_bytes(b.try_into().unwrap()).is_nan());
        assert_eq!(base64("AQID").unwrap(), vec![1, 2, 3]);
        assert_eq!(base64("AQ==").unwrap(), vec![1]);
        assert!(base64("A*").is_none());
    }

    #[test]
    fn bare_nan_and_infinity_are_read_as_zarr_spells_them() {
        let v: Value = serde_json::from_str(&quote_specials(
            r#"{"a": NaN, "b": [1.5, -Infinity], "c": "NaN \" Infinity", "d": Infinity}"#,
        ))
        .unwrap();
        assert!(matches!(attr_of(&v["a"]), AttrValue::F64(x) if x[0].is_nan()));
        assert_eq!(v["b"][1], "-Infinity");
        assert_eq!(v["c"], "NaN \" Infinity");
        assert_eq!(attr_of(&v["d"]), AttrValue::F64(vec![f64::INFINITY]));
        assert_eq!(
            json_of(&AttrValue::I64(vec![1 << 60, 3])),
            serde_json::json!([1i64 << 60, 3])
        );
    }

    #[test]
    fn attributes_go_to_json_and_back() {
        for (v, j) in [
            (AttrValue::Text("degK".into()), serde_json::json!("degK")),
            (AttrValue::I32(vec![3]), serde_json::json!(3)),
            (AttrValue::F64(vec![1.5]), serde_json::json!(1.5)),
            (
                AttrValue::F64(vec![1.0, 2.5]),
                serde_json::json!([1.0, 2.5]),
            ),
            (AttrValue::F64(vec![f64::NAN]), serde_json::json!("NaN")),
        ] {
            assert_eq!(json_of(&v), j, "{v:?}");
        }
        assert_eq!(attr_of(&serde_json::json!(3)), AttrValue::I64(vec![3]));
        assert_eq!(
            attr_of(&serde_json::json!([1, 2])),
            AttrValue::I64(vec![1, 2])
        );
        assert_eq!(attr_of(&serde_json::json!(1.5)), AttrValue::F64(vec![1.5]));
    }
}
