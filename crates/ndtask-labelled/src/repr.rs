//! How labelled arrays and datasets print: Xarray's repr (dimensions with sizes, coordinates
//! with a few labels, data variables with their type and chunks, attributes), made without
//! computing anything.

use crate::attrs::Attrs;
use crate::coords::{Coordinate, Coords};
use crate::dataarray::DataArray;
use crate::dataset::Dataset;
use ndtask_array::AnyArray;
use std::fmt::{self, Write as _};

/// The width a line of the repr is cut to.
const WIDTH: usize = 80;

/// A size in bytes as Xarray prints it: "212B", "23kB", "31MB".
pub(crate) fn human_bytes(n: usize) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n}B")
    } else if v < 10.0 {
        format!("{:.1}{}", v, units[u]).replace(".0", "")
    } else {
        format!("{:.0}{}", v, units[u])
    }
}

/// A NumPy type name of an array's element type.
fn dtype_name(a: &AnyArray) -> &'static str {
    crate::dataarray::numpy_name(a.dtype())
}

/// The labels of a coordinate, as many from both ends as fit in `room` characters.
fn labels_line(c: &Coordinate, room: usize) -> String {
    let n = c.labels.len();
    let items: Vec<String> = (0..n.min(2000)).map(|i| c.labels.show(i)).collect();
    let all = items.join(" ");
    if all.len() <= room && n <= 2000 {
        return all;
    }
    let (mut front, mut back) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, n);
    let mut used = 3;
    loop {
        let mut grew = false;
        if i < j {
            let s = c.labels.show(i);
            if used + s.len() < room {
                used += s.len() + 1;
                front.push(s);
                i += 1;
                grew = true;
            }
        }
        if i < j {
            let s = c.labels.show(j - 1);
            if used + s.len() < room {
                used += s.len() + 1;
                back.push(s);
                j -= 1;
                grew = true;
            }
        }
        if !grew || i >= j {
            break;
        }
    }
    back.reverse();
    if front.is_empty() && back.is_empty() {
        return "...".into();
    }
    format!("{} ... {}", front.join(" "), back.join(" "))
}

/// The width of the name column, as Xarray's: the longest name (at least 7) and 6.
fn col_width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(str::len).max().unwrap_or(0).max(7) + 6
}

fn coords_block(
    f: &mut fmt::Formatter<'_>,
    coords: &Coords,
    dims: &[String],
    col: usize,
) -> fmt::Result {
    if coords.is_empty() {
        return Ok(());
    }
    writeln!(f, "Coordinates:")?;
    // Index coordinates first, in dimension order, then the others.
    let mut order: Vec<(&str, &Coordinate)> = Vec::new();
    for d in dims {
        if let Some(c) = coords
            .get(d)
            .filter(|c| c.dim.as_deref() == Some(d.as_str()))
        {
            order.push((d, c));
        }
    }
    for (n, c) in coords.iter() {
        if !order.iter().any(|(m, _)| *m == n) {
            order.push((n, c));
        }
    }
    for (n, c) in order {
        let star = if c.dim.as_deref() == Some(n) {
            '*'
        } else {
            ' '
        };
        let d = c.dim.as_ref().map_or(String::new(), |d| format!("({d}) "));
        let head = format!(
            "{:<col$}{d}{} {} ",
            format!("  {star} {n} "),
            c.labels.dtype_name(),
            human_bytes(c.labels.nbytes())
        );
        let room = WIDTH.saturating_sub(head.len()).max(12);
        writeln!(f, "{head}{}", labels_line(c, room))?;
    }
    Ok(())
}

/// "Dimensions without coordinates: lon", for the dimensions without labels.
fn bare_dims(f: &mut fmt::Formatter<'_>, coords: &Coords, dims: &[String]) -> fmt::Result {
    let bare: Vec<&str> = dims
        .iter()
        .filter(|d| coords.index(d).is_none())
        .map(String::as_str)
        .collect();
    if bare.is_empty() {
        return Ok(());
    }
    writeln!(f, "Dimensions without coordinates: {}", bare.join(", "))
}

fn attrs_block(f: &mut fmt::Formatter<'_>, attrs: &Attrs) -> fmt::Result {
    if attrs.is_empty() {
        return Ok(());
    }
    writeln!(f, "Attributes:")?;
    let col = col_width(attrs.iter().map(|(n, _)| n));
    for (n, v) in attrs.iter() {
        let mut line = format!("{:<col$} {}", format!("    {n}:"), v);
        line = line.replace('\n', "\\n");
        if line.chars().count() > WIDTH {
            line = line.chars().take(WIDTH - 3).collect::<String>() + "...";
        }
        writeln!(f, "{line}")?;
    }
    Ok(())
}

/// "ndtask.array<shape=(..), dtype=.., chunksize=(..), chunks=n>"
fn data_summary(a: &AnyArray) -> String {
    let tuple = |v: &[usize]| {
        let s: Vec<String> = v.iter().map(ToString::to_string).collect();
        if s.len() == 1 {
            format!("({},)", s[0])
        } else {
            format!("({})", s.join(", "))
        }
    };
    format!(
        "ndtask.array<chunksize={}, chunks={}>",
        tuple(&a.grid().max_chunk_shape()),
        a.num_chunks()
    )
}

impl fmt::Display for DataArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .name
            .as_ref()
            .map_or(String::new(), |n| format!(" '{n}'"));
        let dims: Vec<String> = self
            .dims
            .iter()
            .zip(self.shape())
            .map(|(d, n)| format!("{d}: {n}"))
            .collect();
        writeln!(
            f,
            "<ndtask.DataArray{name} ({})> Size: {}",
            dims.join(", "),
            human_bytes(self.data.nbytes())
        )?;
        let shape: Vec<String> = self.shape().iter().map(ToString::to_string).collect();
        let shape = if shape.len() == 1 {
            format!("({},)", shape[0])
        } else {
            format!("({})", shape.join(", "))
        };
        writeln!(
            f,
            "{}",
            data_summary(&self.data).replacen(
                '<',
                &format!("<shape={shape}, dtype={}, ", dtype_name(&self.data)),
                1
            )
        )?;
        coords_block(
            f,
            &self.coords,
            &self.dims,
            col_width(self.coords.names().into_iter()),
        )?;
        bare_dims(f, &self.coords, &self.dims)?;
        attrs_block(f, &self.attrs)
    }
}

impl fmt::Debug for DataArray {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes: usize = self
            .vars
            .iter()
            .map(|(_, v)| v.data.nbytes())
            .sum::<usize>()
            + self
                .coords
                .iter()
                .map(|(_, c)| c.labels.nbytes())
                .sum::<usize>();
        writeln!(f, "<ndtask.Dataset> Size: {}", human_bytes(bytes))?;
        let dims = self.dims();
        let names = self.coords.names();
        let col = col_width(
            self.vars
                .iter()
                .map(|(n, _)| n.as_str())
                .chain(names.iter().copied()),
        );
        let sizes: Vec<String> = dims.iter().map(|(d, n)| format!("{d}: {n}")).collect();
        writeln!(f, "Dimensions:  ({})", sizes.join(", "))?;
        let order: Vec<String> = dims.iter().map(|(d, _)| d.clone()).collect();
        coords_block(f, &self.coords, &order, col)?;
        bare_dims(f, &self.coords, &order)?;
        writeln!(f, "Data variables:")?;
        for (n, v) in &self.vars {
            let mut line = String::new();
            let _ = write!(
                line,
                "{:<col$}({}) {} {} {}",
                format!("    {n} "),
                v.dims.join(", "),
                dtype_name(&v.data),
                human_bytes(v.data.nbytes()),
                data_summary(&v.data)
            );
            writeln!(f, "{line}")?;
        }
        attrs_block(f, &self.attrs)
    }
}

impl fmt::Debug for Dataset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
