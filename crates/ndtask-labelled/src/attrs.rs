//! Attributes: named text or numbers, kept in the order they were read or set, as NetCDF and
//! Zarr store them.

use std::fmt;

/// The value of an attribute: text, or numbers of a stored type.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    /// Text.
    Text(String),
    /// Signed bytes.
    I8(Vec<i8>),
    /// Unsigned bytes.
    U8(Vec<u8>),
    /// 16-bit integers.
    I16(Vec<i16>),
    /// Unsigned 16-bit integers.
    U16(Vec<u16>),
    /// 32-bit integers.
    I32(Vec<i32>),
    /// Unsigned 32-bit integers.
    U32(Vec<u32>),
    /// 64-bit integers.
    I64(Vec<i64>),
    /// Unsigned 64-bit integers.
    U64(Vec<u64>),
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 64-bit floats.
    F64(Vec<f64>),
}

impl AttrValue {
    /// The numbers as `f64` (empty for text).
    pub fn to_f64s(&self) -> Vec<f64> {
        match self {
            AttrValue::Text(_) => Vec::new(),
            AttrValue::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::U16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::U32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::I64(v) => v.iter().map(|&x| x as f64).collect(),
            AttrValue::U64(v) => v.iter().map(|&x| x as f64).collect(),
            AttrValue::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            AttrValue::F64(v) => v.clone(),
        }
    }

    /// The first number as `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        self.to_f64s().first().copied()
    }

    /// The text, if it is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            AttrValue::Text(s) => Some(s),
            _ => None,
        }
    }

    /// Whether the numbers are 32-bit floats (decoding packed data in `f32`, as NumPy does).
    pub fn is_f32(&self) -> bool {
        matches!(self, AttrValue::F32(_))
    }

    /// Whether the numbers are floats.
    pub fn is_float(&self) -> bool {
        matches!(self, AttrValue::F32(_) | AttrValue::F64(_))
    }

    /// The type's name as NumPy writes it.
    pub fn type_name(&self) -> &'static str {
        match self {
            AttrValue::Text(_) => "str",
            AttrValue::I8(_) => "int8",
            AttrValue::U8(_) => "uint8",
            AttrValue::I16(_) => "int16",
            AttrValue::U16(_) => "uint16",
            AttrValue::I32(_) => "int32",
            AttrValue::U32(_) => "uint32",
            AttrValue::I64(_) => "int64",
            AttrValue::U64(_) => "uint64",
            AttrValue::F32(_) => "float32",
            AttrValue::F64(_) => "float64",
        }
    }
}

impl From<&str> for AttrValue {
    fn from(s: &str) -> Self {
        AttrValue::Text(s.to_string())
    }
}
impl From<String> for AttrValue {
    fn from(s: String) -> Self {
        AttrValue::Text(s)
    }
}
impl From<f64> for AttrValue {
    fn from(v: f64) -> Self {
        AttrValue::F64(vec![v])
    }
}
impl From<f32> for AttrValue {
    fn from(v: f32) -> Self {
        AttrValue::F32(vec![v])
    }
}
impl From<i64> for AttrValue {
    fn from(v: i64) -> Self {
        AttrValue::I64(vec![v])
    }
}
impl From<i32> for AttrValue {
    fn from(v: i32) -> Self {
        AttrValue::I32(vec![v])
    }
}
impl From<i16> for AttrValue {
    fn from(v: i16) -> Self {
        AttrValue::I16(vec![v])
    }
}
impl From<Vec<f64>> for AttrValue {
    fn from(v: Vec<f64>) -> Self {
        AttrValue::F64(v)
    }
}

/// Writes numbers as NumPy prints them: one as itself, several as `[a b c]`.
fn numbers<T: fmt::Display>(f: &mut fmt::Formatter<'_>, v: &[T]) -> fmt::Result {
    if v.len() == 1 {
        return write!(f, "{}", v[0]);
    }
    write!(f, "[")?;
    for (i, x) in v.iter().enumerate() {
        if i > 0 {
            write!(f, " ")?;
        }
        write!(f, "{x}")?;
    }
    write!(f, "]")
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttrValue::Text(s) => write!(f, "{s}"),
            AttrValue::I8(v) => numbers(f, v),
            AttrValue::U8(v) => numbers(f, v),
            AttrValue::I16(v) => numbers(f, v),
            AttrValue::U16(v) => numbers(f, v),
            AttrValue::I32(v) => numbers(f, v),
            AttrValue::U32(v) => numbers(f, v),
            AttrValue::I64(v) => numbers(f, v),
            AttrValue::U64(v) => numbers(f, v),
            AttrValue::F32(v) => numbers(f, v),
            AttrValue::F64(v) => numbers(f, v),
        }
    }
}

/// Attributes in order: names and values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Attrs(Vec<(String, AttrValue)>);

impl Attrs {
    /// No attributes.
    pub fn new() -> Self {
        Attrs(Vec::new())
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&AttrValue> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// Sets `name` (in its place if it is there, else last).
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<AttrValue>) {
        let name = name.into();
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// Removes `name`, giving its value.
    pub fn remove(&mut self, name: &str) -> Option<AttrValue> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    /// The attributes in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AttrValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<K: Into<String>, V: Into<AttrValue>> FromIterator<(K, V)> for Attrs {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut a = Attrs::new();
        for (k, v) in iter {
            a.set(k, v);
        }
        a
    }
}
