//! Xarray's tutorial dataset, the way its documentation works with it: the NCEP air
//! temperature (4x daily, 2013-2014, 25 x 53 points, NetCDF-3 with packed integers) opened
//! lazily in chunks, then the time mean, the monthly climatology, the anomaly against it and the
//! daily means, in one compute.
//!
//! ```text
//! cargo run --release --example air_temperature                      # a clone of the file
//! cargo run --release --example air_temperature -- --input air_temperature.nc --json
//! cargo run --release --example air_temperature -- --write clim.nc --plot mean.svg
//! ```
//!
//! Without `--input` it writes a clone of the tutorial file (the same dimensions, coordinates,
//! attributes and encoding: `air` as int16 with a float32 scale factor of 0.01, time as float32
//! "hours since 1800-01-01"; synthetic values with a seasonal and a daily cycle) and opens that.

#[path = "cli/mod.rs"]
mod cli;

use ndtask::labelled::cf::Stored;
use ndtask::labelled::{open_dataset, time, Coordinate, DataArray, Dataset, GroupArith, Labels};
use ndtask::prelude::*;
use ndtask::scheduler::Kind;
use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str =
    "usage: air_temperature [--input PATH] [--write PATH.nc] [--chunks lat=25,lon=25,time=-1]
                       [--scheduler sync|threaded|mpi|auto] [--threads N] [--plot FILE.svg] [--json]
                       [--report FILE.html]
  --input PATH       a NetCDF-3 file or Zarr group with air(time, lat, lon) (default: a clone of
                     Xarray's air_temperature tutorial file, written to the temporary directory)
  --write PATH.nc    write the time mean and the monthly climatology there (NetCDF-3)
  --chunks SPEC      chunk sizes by dimension, -1 for whole (default lat=25,lon=25,time=-1)
  --scheduler S      sync, threaded (default), mpi (needs --features mpi and mpirun), or auto
  --threads N        threads of the threaded scheduler (default: all cores)
  --plot FILE.svg    draw the time mean as a heat map
  --report FILE     write a performance report of the runs (one HTML page)
  --json             end with one JSON line: dims, chunks, time_mean_min, time_mean_max,
                     clim_months, anomaly_std, daily_len, seconds";

struct Args {
    input: Option<PathBuf>,
    write: Option<PathBuf>,
    chunks: Vec<(String, i64)>,
    scheduler: Option<Kind>,
    threads: Option<usize>,
    plot: Option<PathBuf>,
    json: bool,
    report: Option<String>,
}

/// `lat=25,lon=25,time=-1`.
fn parse_chunks(s: &str) -> Result<Vec<(String, i64)>, String> {
    s.split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (d, n) = p.split_once('=').ok_or_else(|| {
                format!("--chunks expects dim=size pairs such as lat=25,time=-1, got {p:?}")
            })?;
            let n: i64 = n.trim().parse().map_err(|_| {
                format!("--chunks: the size of {d:?} must be a whole number or -1, got {n:?}")
            })?;
            Ok((d.trim().to_string(), n))
        })
        .collect()
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        input: None,
        write: None,
        chunks: parse_chunks("lat=25,lon=25,time=-1")?,
        scheduler: None,
        threads: None,
        plot: None,
        json: false,
        report: None,
    };
    cli::each_arg(USAGE, |flag, value| {
        match flag {
            "--input" => a.input = Some(PathBuf::from(value()?)),
            "--write" => a.write = Some(PathBuf::from(value()?)),
            "--chunks" => a.chunks = parse_chunks(&value()?)?,
            "--scheduler" => a.scheduler = cli::parse_scheduler(&value()?)?,
            "--threads" => a.threads = Some(cli::parse_count("--threads", &value()?)?),
            "--plot" => a.plot = Some(PathBuf::from(value()?)),
            "--json" => a.json = true,
            "--report" => a.report = Some(value()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    Ok(a)
}

fn main() {
    cli::main_with("air_temperature", parse_args, run);
}

/// A clone of Xarray's `air_temperature` tutorial dataset, with synthetic values.
fn tutorial_clone() -> Result<Dataset, Error> {
    let (nt, ny, nx) = (2920usize, 25usize, 53usize);
    let start = time::parse("2013-01-01")?.0;
    let times: Vec<i64> = (0..nt as i64).map(|i| start + i * 6 * time::HOUR).collect();
    let lat: Vec<f32> = (0..ny).map(|i| 75.0 - 2.5 * i as f32).collect();
    let lon: Vec<f32> = (0..nx).map(|i| 200.0 + 2.5 * i as f32).collect();
    // Warmer to the south, a seasonal cycle stronger to the north, a daily cycle, and weather:
    // a deterministic hash, so every run writes the same file.
    let noise = |i: usize| {
        let mut z = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let values = ndarray::Array3::from_shape_fn((nt, ny, nx), |(t, y, x)| {
        let day = t as f64 / 4.0;
        let season = (2.0 * std::f64::consts::PI * (day - 105.0) / 365.25).sin();
        let daily = (2.0 * std::f64::consts::PI * ((t % 4) as f64 / 4.0 + x as f64 / 53.0)).cos();
        let l = f64::from(lat[y]);
        let k = (t * ny + y) * nx + x;
        let v = 300.0 - 0.55 * (l - 15.0)
            + (4.0 + 0.25 * (l - 15.0)) * season
            + 2.0 * daily
            + 6.0 * noise(k);
        // As the file stores them: hundredths of a kelvin.
        (v * 100.0).round() / 100.0
    });
    let air = ndtask::from_ndarray(values, [nt, ny, nx])?;
    let mut air = DataArray::new(air, &["time", "lat", "lon"])?
        .with_attr("long_name", "4xDaily Air temperature at sigma level 995")
        .with_attr("units", "degK")
        .with_attr("precision", 2i16)
        .with_attr("GRIB_id", 11i16)
        .with_attr("GRIB_name", "TMP")
        .with_attr("var_desc", "Air temperature")
        .with_attr("dataset", "NMC Reanalysis")
        .with_attr("level_desc", "Surface")
        .with_attr("statistic", "Individual Obs")
        .with_attr("parent_stat", "Other")
        .with_attr(
            "actual_range",
            ndtask::labelled::AttrValue::F32(vec![185.16, 322.1]),
        );
    let enc = air.encoding_mut();
    enc.dtype = Some(Stored::I16);
    enc.scale_factor = Some(ndtask::labelled::AttrValue::F32(vec![0.01]));
    let mut t = Coordinate::new("time", Labels::Time(times));
    t.attrs.set("standard_name", "time");
    t.attrs.set("long_name", "Time");
    t.encoding.units = Some("hours since 1800-01-01".into());
    t.encoding.dtype = Some(Stored::F32);
    let axis = |labels: Vec<f32>, name: &str, long: &str, units: &str, a: &str| {
        let mut c = Coordinate::new(name, Labels::F32(labels));
        c.attrs.set(
            "standard_name",
            if name == "lat" {
                "latitude"
            } else {
                "longitude"
            },
        );
        c.attrs.set("long_name", long);
        c.attrs.set("units", units);
        c.attrs.set("axis", a);
        c
    };
    Dataset::new()
        .with_var("air", air)?
        .with_coord("time", t)?
        .with_coord("lat", axis(lat, "lat", "Latitude", "degrees_north", "Y"))?
        .with_coord("lon", axis(lon, "lon", "Longitude", "degrees_east", "X"))
        .map(|ds| {
            ds.with_attr("Conventions", "COARDS")
                .with_attr("title", "4x daily NMC reanalysis (1948)")
                .with_attr(
                    "description",
                    "Data is from NMC initialized reanalysis\n(4x/day).  These are the 0.9950 sigma level values.",
                )
                .with_attr("platform", "Model")
                .with_attr("references", "http://www.esrl.noaa.gov/psd/data/gridded/data.ncep.reanalysis.html")
        })
}

fn run(a: &Args) -> Result<(), Error> {
    let chosen = cli::Chosen::new(a.scheduler, a.threads, false)?;
    let s = chosen.get();
    let cfg = cli::reporting(chosen.config(), a.report.as_deref());
    let root = s.rank() == 0;
    let input = match &a.input {
        Some(p) => p.clone(),
        None => {
            let p = std::env::temp_dir().join("ndtask-air_temperature.nc");
            tutorial_clone()?.to_netcdf(&p)?.compute_with(&cfg)?;
            p
        }
    };
    let chunks: Vec<(&str, i64)> = a.chunks.iter().map(|(d, n)| (d.as_str(), *n)).collect();
    let ds = open_dataset(&input, &chunks)?;
    if root {
        println!("{ds}");
    }
    let air = ds.var("air")?;
    let time_mean = air.mean(&["time"])?;
    let months = air.groupby("time.month")?;
    let clim = months.mean()?;
    let anomaly_std = months.arith(GroupArith::Sub, &clim)?.std(&[])?;
    let daily = air.resample("time", "1D")?.mean()?;
    let t = Instant::now();
    let got = cfg.compute_local(&(time_mean, clim, anomaly_std, daily))?;
    let seconds = t.elapsed().as_secs_f64();
    let Some((time_mean, clim, anomaly_std, daily)) = got else {
        return Ok(());
    };
    let mean = time_mean.to_f64()?;
    let (lo, hi) = mean
        .iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let anomaly_std = anomaly_std
        .to_f64()?
        .iter()
        .next()
        .copied()
        .unwrap_or(f64::NAN);
    let clim_months = clim.size("month")?;
    let daily_len = daily.size("time")?;
    println!(
        "time mean {lo:.3} .. {hi:.3} K; monthly climatology of {clim_months} months; anomaly std {anomaly_std:.6} K; \
         {daily_len} daily means; {seconds:.3} s on the {} scheduler ({} threads x {} ranks)",
        s.name(),
        s.threads(),
        s.ranks()
    );
    if let Some(path) = &a.write {
        let out = Dataset::new()
            .with_var("air_mean", time_mean.clone().with_name("air_mean"))?
            .with_var("air_clim", clim.clone().with_name("air_clim"))?;
        out.to_netcdf(path)?.compute()?;
        println!(
            "wrote the time mean and the climatology to {}",
            path.display()
        );
    }
    if let Some(path) = &a.plot {
        plot(&time_mean, path)?;
        println!("drew the time mean to {}", path.display());
    }
    if a.json {
        let dims: serde_json::Map<String, serde_json::Value> =
            ds.dims().into_iter().map(|(d, n)| (d, n.into())).collect();
        let chunks: serde_json::Map<String, serde_json::Value> = ds
            .chunks()
            .into_iter()
            .map(|(d, c)| (d, c.into()))
            .collect();
        let j = serde_json::json!({
            "dims": dims,
            "chunks": chunks,
            "time_mean_min": lo,
            "time_mean_max": hi,
            "clim_months": clim_months,
            "anomaly_std": anomaly_std,
            "daily_len": daily_len,
            "seconds": seconds,
        });
        println!("{j}");
    }
    Ok(())
}

/// The time mean as a heat map: longitude across, latitude up, blue to red.
fn plot(mean: &DataArray, path: &std::path::Path) -> Result<(), Error> {
    use plotters::prelude::*;
    let v = mean.transpose(&["lat", "lon"])?.to_f64()?;
    let labels = |d: &str| -> Result<Vec<f64>, Error> {
        Ok(mean.coord(d)?.labels.numbers().unwrap_or_default())
    };
    let (lat, lon) = (labels("lat")?, labels("lon")?);
    let (ny, nx) = (v.shape()[0], v.shape()[1]);
    if ny == 0 || nx == 0 || lat.len() != ny || lon.len() != nx {
        return Err(Error::InvalidArgument(
            "--plot needs a time mean over lat and lon labels".into(),
        ));
    }
    let finite = v.iter().filter(|x| x.is_finite());
    let lo = finite.clone().fold(f64::INFINITY, |a, &b| a.min(b));
    let hi = finite.fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    let step = |c: &[f64]| {
        if c.len() > 1 {
            (c[1] - c[0]).abs()
        } else {
            1.0
        }
    };
    let (dy, dx) = (step(&lat), step(&lon));
    let fail =
        |e: &dyn std::fmt::Display| Error::io(format!("drawing {}", path.display()), e.to_string());
    let root = SVGBackend::new(path, (900, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| fail(&e))?;
    let (x0, x1) = (
        lon.iter().cloned().fold(f64::INFINITY, f64::min) - dx / 2.0,
        lon.iter().cloned().fold(f64::NEG_INFINITY, f64::max) + dx / 2.0,
    );
    let (y0, y1) = (
        lat.iter().cloned().fold(f64::INFINITY, f64::min) - dy / 2.0,
        lat.iter().cloned().fold(f64::NEG_INFINITY, f64::max) + dy / 2.0,
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("air, time mean ({lo:.1} .. {hi:.1} K)"),
            ("sans-serif", 22),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(44)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| fail(&e))?;
    chart
        .configure_mesh()
        .x_desc("longitude (degrees east)")
        .y_desc("latitude (degrees north)")
        .disable_mesh()
        .draw()
        .map_err(|e| fail(&e))?;
    let colour = |x: f64| {
        let t = if hi > lo {
            ((x - lo) / (hi - lo)).clamp(0.0, 1.0)
        } else {
            0.5
        };
        RGBColor(
            (255.0 * t) as u8,
            (80.0 * (1.0 - (2.0 * t - 1.0).abs())) as u8,
            (255.0 * (1.0 - t)) as u8,
        )
    };
    chart
        .draw_series(
            (0..ny)
                .flat_map(|i| (0..nx).map(move |j| (i, j)))
                .map(|(i, j)| {
                    let (x, y) = (lon[j], lat[i]);
                    let c = if v[[i, j]].is_finite() {
                        colour(v[[i, j]])
                    } else {
                        RGBColor(200, 200, 200)
                    };
                    Rectangle::new(
                        [(x - dx / 2.0, y - dy / 2.0), (x + dx / 2.0, y + dy / 2.0)],
                        c.filled(),
                    )
                }),
        )
        .map_err(|e| fail(&e))?;
    root.present().map_err(|e| fail(&e))?;
    Ok(())
}
