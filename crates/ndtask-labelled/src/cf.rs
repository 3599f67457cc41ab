//! CF conventions, decoded as Xarray decodes them by default, and encoded back the same way:
//! `_FillValue` and `missing_value` become NaN, `scale_factor` and `add_offset` unpack
//! integers into floats (of Xarray's width: `f32` for 8- and 16-bit integers with an `f32`
//! scale, `f64` otherwise), and time units ("hours since 1800-01-01") make datetimes.

use crate::attrs::{AttrValue, Attrs};
use ndtask_core::{DType, Error, Result};

/// A type values are stored as in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Signed bytes (NetCDF `byte`).
    I8,
    /// Unsigned bytes.
    U8,
    /// 16-bit integers (NetCDF `short`).
    I16,
    /// Unsigned 16-bit integers.
    U16,
    /// 32-bit integers (NetCDF `int`).
    I32,
    /// Unsigned 32-bit integers.
    U32,
    /// 64-bit integers.
    I64,
    /// Unsigned 64-bit integers.
    U64,
    /// 32-bit floats (NetCDF `float`).
    F32,
    /// 64-bit floats (NetCDF `double`).
    F64,
    /// Characters (NetCDF `char`): text, along a last dimension of string length.
    Char,
    /// Booleans (Zarr `bool`).
    Bool,
}

impl Stored {
    /// NumPy's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Stored::I8 => "int8",
            Stored::U8 => "uint8",
            Stored::I16 => "int16",
            Stored::U16 => "uint16",
            Stored::I32 => "int32",
            Stored::U32 => "uint32",
            Stored::I64 => "int64",
            Stored::U64 => "uint64",
            Stored::F32 => "float32",
            Stored::F64 => "float64",
            Stored::Char => "char",
            Stored::Bool => "bool",
        }
    }

    /// The type of a NumPy name.
    pub fn parse(name: &str) -> Option<Stored> {
        Some(match name {
            "int8" => Stored::I8,
            "uint8" => Stored::U8,
            "int16" => Stored::I16,
            "uint16" => Stored::U16,
            "int32" => Stored::I32,
            "uint32" => Stored::U32,
            "int64" => Stored::I64,
            "uint64" => Stored::U64,
            "float32" => Stored::F32,
            "float64" => Stored::F64,
            "char" => Stored::Char,
            "bool" => Stored::Bool,
            _ => return None,
        })
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            Stored::I8 | Stored::U8 | Stored::Char | Stored::Bool => 1,
            Stored::I16 | Stored::U16 => 2,
            Stored::I32 | Stored::U32 | Stored::F32 => 4,
            Stored::I64 | Stored::U64 | Stored::F64 => 8,
        }
    }

    /// Whether it is an integer type.
    pub fn is_int(self) -> bool {
        !matches!(
            self,
            Stored::F32 | Stored::F64 | Stored::Char | Stored::Bool
        )
    }

    /// The ndtask type the stored values are read as without decoding (integers as `i64`).
    pub fn dtype(self) -> DType {
        match self {
            Stored::F32 => DType::F32,
            Stored::F64 => DType::F64,
            Stored::Bool => DType::Bool,
            _ => DType::I64,
        }
    }

    /// The float type NumPy promotes it to when values go missing (`maybe_promote`).
    fn promoted(self) -> DType {
        match self {
            Stored::I8 | Stored::U8 | Stored::I16 | Stored::U16 | Stored::F32 => DType::F32,
            _ => DType::F64,
        }
    }

    /// A stored number in the attribute type of this type (for `_FillValue`).
    pub fn attr(self, v: f64) -> AttrValue {
        match self {
            Stored::I8 => AttrValue::I8(vec![v as i8]),
            Stored::U8 | Stored::Bool | Stored::Char => AttrValue::U8(vec![v as u8]),
            Stored::I16 => AttrValue::I16(vec![v as i16]),
            Stored::U16 => AttrValue::U16(vec![v as u16]),
            Stored::I32 => AttrValue::I32(vec![v as i32]),
            Stored::U32 => AttrValue::U32(vec![v as u32]),
            Stored::I64 => AttrValue::I64(vec![v as i64]),
            Stored::U64 => AttrValue::U64(vec![v as u64]),
            Stored::F32 => AttrValue::F32(vec![v as f32]),
            Stored::F64 => AttrValue::F64(vec![v]),
        }
    }
}

/// How a variable was stored: what decoding took from its attributes, to store it the same
/// way again (Xarray's `encoding`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Encoding {
    /// The stored type.
    pub dtype: Option<Stored>,
    /// `scale_factor`.
    pub scale_factor: Option<AttrValue>,
    /// `add_offset`.
    pub add_offset: Option<AttrValue>,
    /// `_FillValue`.
    pub fill_value: Option<AttrValue>,
    /// `missing_value`.
    pub missing_value: Option<AttrValue>,
    /// Time units ("hours since 1800-01-01"), for datetimes.
    pub units: Option<String>,
    /// The calendar, for datetimes.
    pub calendar: Option<String>,
}

/// Turns stored numbers into values: masking, then unpacking.
#[derive(Debug, Clone, PartialEq)]
pub struct Decode {
    /// Stored values that mean "missing".
    mask: Vec<f64>,
    scale: Option<(f64, bool)>,
    offset: Option<(f64, bool)>,
    /// The type of the values (`F32` or `F64`).
    pub target: DType,
}

impl Decode {
    /// Plans the decoding of a variable stored as `stored` with `attrs`: the CF attributes
    /// move from `attrs` into `encoding`. `None` when nothing needs decoding.
    pub fn plan(stored: Stored, attrs: &mut Attrs, encoding: &mut Encoding) -> Option<Decode> {
        encoding.dtype = Some(stored);
        if matches!(stored, Stored::Char | Stored::Bool) {
            return None;
        }
        let fill = attrs.remove("_FillValue");
        let missing = attrs.remove("missing_value");
        let scale = attrs.remove("scale_factor");
        let offset = attrs.remove("add_offset");
        let mut mask: Vec<f64> = Vec::new();
        for v in [&fill, &missing].into_iter().flatten() {
            mask.extend(v.to_f64s());
        }
        // A float's NaN fill masks nothing that is not already NaN.
        let masks = !mask.is_empty() && (stored.is_int() || !mask.iter().all(|m| m.is_nan()));
        let target = if fill.is_some() || missing.is_some() {
            stored.promoted()
        } else if scale.is_some() || offset.is_some() {
            choose_float(stored, scale.as_ref(), offset.as_ref())
        } else {
            stored.dtype()
        };
        let decode = Decode {
            mask: if masks { mask } else { Vec::new() },
            scale: scale.as_ref().and_then(|v| Some((v.as_f64()?, v.is_f32()))),
            offset: offset
                .as_ref()
                .and_then(|v| Some((v.as_f64()?, v.is_f32()))),
            target,
        };
        encoding.fill_value = fill;
        encoding.missing_value = missing;
        encoding.scale_factor = scale;
        encoding.add_offset = offset;
        let needed = !decode.mask.is_empty()
            || decode.scale.is_some()
            || decode.offset.is_some()
            || (stored.is_int() && target != DType::I64);
        needed.then_some(decode)
    }

    /// The value of a stored number, rounded to the target type.
    #[inline]
    pub fn value(&self, raw: f64) -> f64 {
        if self.mask.contains(&raw) {
            return f64::NAN;
        }
        let f32_target = self.target == DType::F32;
        let round = |v: f64| if f32_target { f64::from(v as f32) } else { v };
        let mut v = round(raw);
        if let Some((s, s32)) = self.scale {
            v = if f32_target && s32 {
                f64::from(v as f32 * s as f32)
            } else {
                round(v * s)
            };
        }
        if let Some((o, o32)) = self.offset {
            v = if f32_target && o32 {
                f64::from(v as f32 + o as f32)
            } else {
                round(v + o)
            };
        }
        v
    }
}

/// Xarray's float type for unpacked values (`_choose_float_dtype`).
fn choose_float(stored: Stored, scale: Option<&AttrValue>, offset: Option<&AttrValue>) -> DType {
    let of = |v: Option<&AttrValue>| v.map(|v| if v.is_f32() { DType::F32 } else { DType::F64 });
    let (s, o) = (of(scale), of(offset));
    if let (Some(s), Some(o)) = (s, o) {
        if s == o && scale.is_some_and(AttrValue::is_float) {
            if stored.size() == 4 && stored.is_int() {
                return DType::F64;
            }
            return s;
        }
    }
    if offset.is_some() {
        return DType::F64;
    }
    if let Some(s) = s {
        // A scale alone: its own type (NumPy's type of the attribute; integers are f64).
        return if scale.is_some_and(AttrValue::is_float) {
            s
        } else {
            DType::F64
        };
    }
    DType::F64
}

/// Packs values for storing as `encoding` says: the inverse of [`Decode`] (NaN as the fill
/// value, `(v - add_offset) / scale_factor`, rounded half to even for integers).
#[derive(Debug, Clone, PartialEq)]
pub struct Encode {
    /// The stored type.
    pub stored: Stored,
    fill: Option<f64>,
    scale: Option<f64>,
    offset: Option<f64>,
}

impl Encode {
    /// The packing `encoding` asks for values of type `dtype` stored as `stored`.
    pub fn new(stored: Stored, encoding: &Encoding) -> Encode {
        Encode {
            stored,
            fill: encoding
                .fill_value
                .as_ref()
                .or(encoding.missing_value.as_ref())
                .and_then(AttrValue::as_f64),
            scale: encoding.scale_factor.as_ref().and_then(AttrValue::as_f64),
            offset: encoding.add_offset.as_ref().and_then(AttrValue::as_f64),
        }
    }

    /// The stored number of a value, or an error naming the variable if it does not fit.
    #[inline]
    pub fn stored(&self, v: f64, var: &str) -> Result<f64> {
        if v.is_nan() {
            return match (self.fill, self.stored.is_int()) {
                (Some(f), _) => Ok(f),
                (None, false) => Ok(f64::NAN),
                (None, true) => Err(Error::InvalidArgument(format!(
                    "the variable {var:?} holds NaN, which {} cannot store without a _FillValue",
                    self.stored.name()
                ))),
            };
        }
        let mut x = v;
        if let Some(o) = self.offset {
            x -= o;
        }
        if let Some(s) = self.scale {
            x /= s;
        }
        if self.stored.is_int() {
            x = x.round_ties_even();
            let (lo, hi) = int_range(self.stored);
            if !(lo..=hi).contains(&x) {
                return Err(Error::InvalidArgument(format!(
                    "the value {v} of the variable {var:?} does not fit its stored type {}",
                    self.stored.name()
                )));
            }
        }
        Ok(x)
    }
}

fn int_range(s: Stored) -> (f64, f64) {
    match s {
        Stored::I8 => (-128.0, 127.0),
        Stored::U8 | Stored::Bool | Stored::Char => (0.0, 255.0),
        Stored::I16 => (-32768.0, 32767.0),
        Stored::U16 => (0.0, 65535.0),
        Stored::I32 => (-2_147_483_648.0, 2_147_483_647.0),
        Stored::U32 => (0.0, 4_294_967_295.0),
        Stored::I64 => (-9.223_372_036_854_776e18, 9.223_372_036_854_776e18),
        _ => (0.0, 1.844_674_407_370_955_2e19),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_shorts_unpack_as_xarray_does() {
        let mut attrs: Attrs = [("scale_factor", AttrValue::F32(vec![0.01]))]
            .into_iter()
            .collect();
        let mut enc = Encoding::default();
        let d = Decode::plan(Stored::I16, &mut attrs, &mut enc).unwrap();
        assert_eq!(d.target, DType::F32);
        assert_eq!(d.value(24_130.0), f64::from(24_130f32 * 0.01f32));
        assert!(attrs.is_empty());
        let mut attrs: Attrs = [("scale_factor", 0.01f64)].into_iter().collect();
        let d = Decode::plan(Stored::I16, &mut attrs, &mut Encoding::default()).unwrap();
        assert_eq!(d.target, DType::F64);
        let mut attrs: Attrs = [("_FillValue", AttrValue::I16(vec![-32767]))]
            .into_iter()
            .collect();
        let d = Decode::plan(Stored::I16, &mut attrs, &mut Encoding::default()).unwrap();
        assert_eq!(d.target, DType::F32);
        assert!(d.value(-32767.0).is_nan());
        let e = Encode::new(
            Stored::I16,
            &Encoding {
                scale_factor: Some(AttrValue::F32(vec![0.01])),
                fill_value: Some(AttrValue::I16(vec![-32767])),
                ..Encoding::default()
            },
        );
        assert_eq!(e.stored(241.3, "air").unwrap(), 24_130.0);
        assert_eq!(e.stored(f64::NAN, "air").unwrap(), -32_767.0);
        assert!(e
            .stored(1e9, "air")
            .unwrap_err()
            .to_string()
            .contains("\"air\""));
    }
}
