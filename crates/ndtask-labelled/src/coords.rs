//! Coordinates: the labels along a dimension (an index coordinate, named as its dimension), or
//! other labels along one (`month` along `time` after a group-wise subtraction), or a scalar
//! left by a selection. Coordinates are small and held in memory; lookups by label happen
//! when an expression is built, never in a task.

use crate::attrs::{AttrValue, Attrs};
use crate::cf::{Decode, Encoding, Stored};
use crate::time::{self, TimeUnits, NAT};
use ndtask_core::{DType, Error, Result};
use std::fmt;

/// The labels of a coordinate.
#[derive(Debug, Clone, PartialEq)]
pub enum Labels {
    /// 64-bit floats.
    F64(Vec<f64>),
    /// 32-bit floats (as NetCDF stores latitudes and longitudes).
    F32(Vec<f32>),
    /// Integers.
    I64(Vec<i64>),
    /// Text.
    Str(Vec<String>),
    /// Datetimes: nanoseconds since 1970-01-01 ([`time::NAT`] for none).
    Time(Vec<i64>),
}

/// One label: what [`Labels`] holds one of, and what selections look for.
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    /// A float.
    F64(f64),
    /// An integer.
    I64(i64),
    /// Text (for a datetime coordinate: a whole or partial ISO datetime).
    Str(String),
    /// A datetime in nanoseconds since 1970-01-01.
    Time(i64),
}

impl From<f64> for Label {
    fn from(v: f64) -> Self {
        Label::F64(v)
    }
}
impl From<i64> for Label {
    fn from(v: i64) -> Self {
        Label::I64(v)
    }
}
impl From<i32> for Label {
    fn from(v: i32) -> Self {
        Label::I64(i64::from(v))
    }
}
impl From<&str> for Label {
    fn from(v: &str) -> Self {
        Label::Str(v.to_string())
    }
}
impl From<String> for Label {
    fn from(v: String) -> Self {
        Label::Str(v)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::F64(v) => write!(f, "{v:?}"),
            Label::I64(v) => write!(f, "{v}"),
            Label::Str(s) => write!(f, "{s:?}"),
            Label::Time(t) => write!(f, "{}", time::format(*t)),
        }
    }
}

impl Labels {
    /// How many labels.
    pub fn len(&self) -> usize {
        match self {
            Labels::F64(v) => v.len(),
            Labels::F32(v) => v.len(),
            Labels::I64(v) => v.len(),
            Labels::Str(v) => v.len(),
            Labels::Time(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type's name as NumPy writes it (`datetime64[ns]`, `<U3` for text of up to 3
    /// characters).
    pub fn dtype_name(&self) -> String {
        match self {
            Labels::F64(_) => "float64".into(),
            Labels::F32(_) => "float32".into(),
            Labels::I64(_) => "int64".into(),
            Labels::Str(v) => format!(
                "<U{}",
                v.iter().map(|s| s.chars().count()).max().unwrap_or(0)
            ),
            Labels::Time(_) => "datetime64[ns]".into(),
        }
    }

    /// The size in bytes NumPy would hold them in.
    pub fn nbytes(&self) -> usize {
        match self {
            Labels::F32(v) => 4 * v.len(),
            Labels::Str(v) => 4 * v.len() * v.iter().map(|s| s.chars().count()).max().unwrap_or(0),
            _ => 8 * self.len(),
        }
    }

    /// Label `i`.
    pub fn get(&self, i: usize) -> Label {
        match self {
            Labels::F64(v) => Label::F64(v[i]),
            Labels::F32(v) => Label::F64(f64::from(v[i])),
            Labels::I64(v) => Label::I64(v[i]),
            Labels::Str(v) => Label::Str(v[i].clone()),
            Labels::Time(v) => Label::Time(v[i]),
        }
    }

    /// Label `i` as NumPy prints it in a repr.
    pub fn show(&self, i: usize) -> String {
        match self {
            Labels::F64(v) => format!("{:?}", v[i]),
            Labels::F32(v) => format!("{:?}", v[i]),
            Labels::I64(v) => v[i].to_string(),
            Labels::Str(v) => format!("{:?}", v[i]).replace('"', "'"),
            Labels::Time(v) => time::format(v[i]),
        }
    }

    /// The labels at `idx`, in that order.
    pub fn take(&self, idx: &[usize]) -> Labels {
        match self {
            Labels::F64(v) => Labels::F64(idx.iter().map(|&i| v[i]).collect()),
            Labels::F32(v) => Labels::F32(idx.iter().map(|&i| v[i]).collect()),
            Labels::I64(v) => Labels::I64(idx.iter().map(|&i| v[i]).collect()),
            Labels::Str(v) => Labels::Str(idx.iter().map(|&i| v[i].clone()).collect()),
            Labels::Time(v) => Labels::Time(idx.iter().map(|&i| v[i]).collect()),
        }
    }

    /// One label as a list of one.
    pub fn one(label: &Label) -> Labels {
        match label {
            Label::F64(v) => Labels::F64(vec![*v]),
            Label::I64(v) => Labels::I64(vec![*v]),
            Label::Str(s) => Labels::Str(vec![s.clone()]),
            Label::Time(t) => Labels::Time(vec![*t]),
        }
    }

    /// Whether two coordinates hold the same labels (NaN equal to NaN; `f32` and `f64`
    /// labels by value).
    pub fn same(&self, other: &Labels) -> bool {
        if self.len() != other.len() {
            return false;
        }
        match (self, other) {
            (Labels::I64(a), Labels::I64(b)) | (Labels::Time(a), Labels::Time(b)) => a == b,
            (Labels::Str(a), Labels::Str(b)) => a == b,
            (a, b) => match (a.numbers(), b.numbers()) {
                (Some(x), Some(y)) => x
                    .iter()
                    .zip(&y)
                    .all(|(p, q)| p == q || (p.is_nan() && q.is_nan())),
                _ => false,
            },
        }
    }

    /// The labels as `f64`, if they are numbers (datetimes as nanoseconds).
    pub fn numbers(&self) -> Option<Vec<f64>> {
        match self {
            Labels::F64(v) => Some(v.clone()),
            Labels::F32(v) => Some(v.iter().map(|&x| f64::from(x)).collect()),
            Labels::I64(v) => Some(v.iter().map(|&x| x as f64).collect()),
            Labels::Time(v) => Some(v.iter().map(|&x| x as f64).collect()),
            Labels::Str(_) => None,
        }
    }

    /// Whether the labels never decrease (`Some(true)`), never increase (`Some(false)`), or
    /// neither (`None`); text compares as text.
    pub(crate) fn direction(&self) -> Option<bool> {
        let n = self.len();
        let cmp = |i: usize| -> Option<std::cmp::Ordering> {
            match self {
                Labels::Str(v) => Some(v[i].cmp(&v[i + 1])),
                Labels::I64(v) | Labels::Time(v) => Some(v[i].cmp(&v[i + 1])),
                Labels::F64(v) => v[i].partial_cmp(&v[i + 1]),
                Labels::F32(v) => v[i].partial_cmp(&v[i + 1]),
            }
        };
        let mut up = true;
        let mut down = true;
        for i in 0..n.saturating_sub(1) {
            match cmp(i)? {
                std::cmp::Ordering::Less => down = false,
                std::cmp::Ordering::Greater => up = false,
                std::cmp::Ordering::Equal => {}
            }
        }
        if up {
            Some(true)
        } else if down {
            Some(false)
        } else {
            None
        }
    }

    /// The finest unit every datetime falls on (a day, an hour, ...), in nanoseconds.
    fn time_resolution(v: &[i64]) -> i64 {
        for unit in [time::DAY, time::HOUR, time::MINUTE, time::SECOND] {
            if v.iter().all(|&t| t == NAT || t.rem_euclid(unit) == 0) {
                return unit;
            }
        }
        1
    }

    /// A label as a number comparable with these labels, or an error naming both.
    fn key(&self, label: &Label, dim: &str) -> Result<f64> {
        let mismatch = || {
            Error::InvalidArgument(format!(
                "the label {label} does not fit the {} labels of {dim:?}",
                self.dtype_name()
            ))
        };
        match (self, label) {
            (Labels::Str(_), _) => Err(mismatch()),
            (Labels::Time(_), Label::Time(t)) => Ok(*t as f64),
            (Labels::Time(_), Label::Str(s)) => Ok(time::parse(s)?.0 as f64),
            (Labels::Time(_), _) => Err(mismatch()),
            (_, Label::F64(v)) => Ok(*v),
            (_, Label::I64(v)) => Ok(*v as f64),
            _ => Err(mismatch()),
        }
    }

    fn not_found(&self, label: &Label, dim: &str) -> Error {
        let n = self.len();
        let range = if n == 0 {
            "none".to_string()
        } else {
            format!("{} .. {}", self.show(0), self.show(n - 1))
        };
        Error::InvalidArgument(format!(
            "the label {label} is not in the coordinate {dim:?} ({n} labels: {range})"
        ))
    }

    /// The position of `label` (the first if it is there more than once).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the label, the coordinate and its range.
    pub fn position(&self, label: &Label, dim: &str) -> Result<usize> {
        let found = match (self, label) {
            (Labels::Str(v), Label::Str(s)) => v.iter().position(|x| x == s),
            (Labels::Time(v), Label::Str(s)) => {
                let (t, _) = time::parse(s)?;
                v.iter().position(|&x| x == t)
            }
            (Labels::I64(v), Label::I64(x)) | (Labels::Time(v), Label::Time(x)) => {
                v.iter().position(|y| y == x)
            }
            _ => {
                let k = self.key(label, dim)?;
                let nums = self.numbers().unwrap_or_default();
                nums.iter().position(|&y| y == k)
            }
        };
        found.ok_or_else(|| self.not_found(label, dim))
    }

    /// The position of the label nearest to `label` (ties to the larger label, as pandas),
    /// within `tolerance` if given.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for text labels, no labels, or none within the tolerance.
    pub fn nearest(&self, label: &Label, tolerance: Option<f64>, dim: &str) -> Result<usize> {
        if let Labels::Str(_) = self {
            return self.position(label, dim);
        }
        let k = self.key(label, dim)?;
        let nums = self.numbers().unwrap_or_default();
        let mut best: Option<(f64, f64, usize)> = None;
        for (i, &v) in nums.iter().enumerate() {
            if v.is_nan() || (matches!(self, Labels::Time(_)) && v == NAT as f64) {
                continue;
            }
            let d = (v - k).abs();
            best = match best {
                Some((bd, bv, _)) if d > bd || (d == bd && v <= bv) => best,
                _ => Some((d, v, i)),
            };
        }
        match best {
            Some((d, _, i)) if tolerance.is_none_or(|t| d <= t) => Ok(i),
            Some((d, _, i)) => Err(Error::InvalidArgument(format!(
                "the label {label} is not within the tolerance {} of any label of {dim:?} (the \
                 nearest, {}, is {d} away)",
                tolerance.unwrap_or(0.0),
                self.show(i)
            ))),
            None => Err(self.not_found(label, dim)),
        }
    }

    /// Positions `[a, b)` of the labels from `lo` to `hi`, both included (for labels that
    /// fall, `lo` is the larger), as pandas slices a sorted index; a partial datetime string
    /// covers its whole span.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for labels that are not sorted, or bounds of another type.
    pub fn slice(
        &self,
        lo: Option<&Label>,
        hi: Option<&Label>,
        dim: &str,
    ) -> Result<(usize, usize)> {
        let Some(up) = self.direction() else {
            return Err(Error::InvalidArgument(format!(
                "the coordinate {dim:?} is not sorted, so it cannot be sliced by label"
            )));
        };
        let n = self.len();
        if let Labels::Str(v) = self {
            let pick = |l: Option<&Label>| -> Result<Option<String>> {
                match l {
                    None => Ok(None),
                    Some(Label::Str(s)) => Ok(Some(s.clone())),
                    Some(other) => Err(Error::InvalidArgument(format!(
                        "the label {other} does not fit the text labels of {dim:?}"
                    ))),
                }
            };
            let (l, h) = (pick(lo)?, pick(hi)?);
            let inside = |s: &String| {
                if up {
                    l.as_ref().is_none_or(|l| s >= l) && h.as_ref().is_none_or(|h| s <= h)
                } else {
                    l.as_ref().is_none_or(|l| s <= l) && h.as_ref().is_none_or(|h| s >= h)
                }
            };
            return Ok(run(v.iter().map(inside), n));
        }
        // Bounds as numbers: a datetime string covers its span (its end excluded).
        let bound = |l: Option<&Label>, low: bool| -> Result<Option<(f64, bool)>> {
            let Some(l) = l else { return Ok(None) };
            if let (Labels::Time(_), Label::Str(s)) = (self, l) {
                let (a, b) = time::parse(s)?;
                // For a rising index the low bound is the span's start, the high its end.
                return Ok(Some(if low == up {
                    (a as f64, true)
                } else {
                    (b as f64, false)
                }));
            }
            Ok(Some((self.key(l, dim)?, true)))
        };
        let (l, h) = (bound(lo, true)?, bound(hi, false)?);
        let nums = self.numbers().unwrap_or_default();
        let inside = |v: &f64| {
            let v = *v;
            let above =
                |b: Option<(f64, bool)>| b.is_none_or(|(x, inc)| if inc { v >= x } else { v > x });
            let below =
                |b: Option<(f64, bool)>| b.is_none_or(|(x, inc)| if inc { v <= x } else { v < x });
            if up {
                above(l) && below(h)
            } else {
                below(l) && above(h)
            }
        };
        Ok(run(nums.iter().map(inside), n))
    }

    /// For a datetime coordinate and a string label: the span the string names if it is
    /// coarser than the coordinate's resolution (a month of six-hourly times), which selects a
    /// slice, not one position.
    pub fn partial_span(&self, label: &Label) -> Option<Result<(usize, usize)>> {
        let (Labels::Time(v), Label::Str(s)) = (self, label) else {
            return None;
        };
        let (a, b) = match time::parse(s) {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        if b - a <= Self::time_resolution(v) {
            return None;
        }
        Some(self.slice(Some(label), Some(label), "time"))
    }
}

/// The first run of `true` in `inside`: `[a, b)` (`(0, 0)` for none).
fn run(inside: impl Iterator<Item = bool>, n: usize) -> (usize, usize) {
    let flags: Vec<bool> = inside.collect();
    let a = flags.iter().position(|&f| f).unwrap_or(n);
    let b = flags[a..].iter().position(|&f| !f).map_or(n, |k| a + k);
    if a >= b {
        (0, 0)
    } else {
        (a, b)
    }
}

/// A coordinate: labels along at most one dimension, with attributes and how they were stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Coordinate {
    /// The dimension the labels run along (none for a scalar coordinate).
    pub dim: Option<String>,
    /// The labels (one for a scalar).
    pub labels: Labels,
    /// Attributes.
    pub attrs: Attrs,
    /// How the labels were stored (for writing them back the same way).
    pub encoding: Encoding,
}

impl Coordinate {
    /// Labels along `dim`.
    pub fn new(dim: impl Into<String>, labels: Labels) -> Self {
        Coordinate {
            dim: Some(dim.into()),
            labels,
            attrs: Attrs::new(),
            encoding: Default::default(),
        }
    }

    /// A scalar coordinate.
    pub fn scalar(label: &Label) -> Self {
        Coordinate {
            dim: None,
            labels: Labels::one(label),
            attrs: Attrs::new(),
            encoding: Default::default(),
        }
    }
}

/// Coordinates by name, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Coords(pub(crate) Vec<(String, Coordinate)>);

impl Coords {
    /// The coordinate `name`.
    pub fn get(&self, name: &str) -> Option<&Coordinate> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, c)| c)
    }

    /// Sets `name` (in its place if it is there, else last).
    pub fn set(&mut self, name: impl Into<String>, c: Coordinate) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = c,
            None => self.0.push((name, c)),
        }
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) -> Option<Coordinate> {
        let i = self.0.iter().position(|(n, _)| n == name)?;
        Some(self.0.remove(i).1)
    }

    /// The coordinates in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Coordinate)> {
        self.0.iter().map(|(n, c)| (n.as_str(), c))
    }

    /// The names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.0.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps the coordinates `keep` says yes to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&str, &Coordinate) -> bool) {
        self.0.retain(|(n, c)| keep(n, c));
    }

    /// The index coordinate of `dim` (the coordinate named as the dimension, along it).
    pub fn index(&self, dim: &str) -> Option<&Labels> {
        self.get(dim)
            .filter(|c| c.dim.as_deref() == Some(dim))
            .map(|c| &c.labels)
    }
}

/// Decodes the labels of a coordinate read as numbers: datetimes where `attrs` has time units
/// of the standard calendar (the units move into `encoding`), the numbers otherwise.
pub fn decode_labels(
    nums: Vec<f64>,
    ints: Option<Vec<i64>>,
    stored: Stored,
    attrs: &mut Attrs,
    encoding: &mut Encoding,
) -> Labels {
    let decode = Decode::plan(stored, attrs, encoding);
    let units = attrs
        .get("units")
        .and_then(AttrValue::as_text)
        .map(str::to_string);
    let calendar = attrs
        .get("calendar")
        .and_then(AttrValue::as_text)
        .map(str::to_string);
    let standard = calendar.as_deref().is_none_or(|c| {
        matches!(
            c.to_ascii_lowercase().as_str(),
            "standard" | "gregorian" | "proleptic_gregorian"
        )
    });
    if let Some(u) = units
        .as_deref()
        .and_then(TimeUnits::parse)
        .filter(|_| standard)
    {
        attrs.remove("units");
        attrs.remove("calendar");
        encoding.units = units;
        encoding.calendar = calendar;
        let times = match (&ints, &decode) {
            (Some(ints), None) => ints.iter().map(|&v| u.decode_i64(v)).collect(),
            _ => nums
                .iter()
                .map(|&v| match &decode {
                    Some(d) => d.value(v),
                    None => v,
                })
                .map(|v| if v.is_nan() { NAT } else { u.decode_f64(v) })
                .collect(),
        };
        return Labels::Time(times);
    }
    match (decode, stored) {
        (Some(d), _) => {
            let v: Vec<f64> = nums.iter().map(|&x| d.value(x)).collect();
            if d.target == DType::F32 {
                Labels::F32(v.iter().map(|&x| x as f32).collect())
            } else {
                Labels::F64(v)
            }
        }
        (None, Stored::F32) => Labels::F32(nums.iter().map(|&x| x as f32).collect()),
        (None, Stored::F64) => Labels::F64(nums),
        (None, _) => Labels::I64(ints.unwrap_or_else(|| nums.iter().map(|&x| x as i64).collect())),
    }
}
