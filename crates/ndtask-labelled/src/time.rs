//! Datetimes as nanoseconds since 1970-01-01 in the proleptic Gregorian calendar (NumPy's
//! `datetime64[ns]`): civil dates, ISO strings (whole and partial, as `sel(time="2013-05")`
//! takes), CF time units ("hours since 1800-01-01"), datetime components (`time.month`,
//! `time.season`) and resampling bins (`"1D"`, `"6h"`, `"MS"`, `"ME"`).

use ndtask_core::{Error, Result};

/// Not a time (NumPy's `NaT`).
pub const NAT: i64 = i64::MIN;

/// Nanoseconds in a second, minute, hour and day.
/// A second in nanoseconds (datetimes are nanoseconds since 1970-01-01).
pub const SECOND: i64 = 1_000_000_000;
/// A minute in nanoseconds.
pub const MINUTE: i64 = 60 * SECOND;
/// An hour in nanoseconds.
pub const HOUR: i64 = 60 * MINUTE;
/// A day in nanoseconds.
pub const DAY: i64 = 24 * HOUR;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// The parts of a datetime: date, time of day and nanoseconds of the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Civil {
    /// The year.
    pub year: i64,
    /// The month, 1 to 12.
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
    /// The hour, 0 to 23.
    pub hour: u32,
    /// The minute.
    pub minute: u32,
    /// The second.
    pub second: u32,
    /// Nanoseconds past the second.
    pub nanos: u32,
}

/// The civil parts of `ns` nanoseconds since the epoch.
pub fn civil(ns: i64) -> Civil {
    let days = ns.div_euclid(DAY);
    let rest = ns.rem_euclid(DAY);
    let (year, month, day) = civil_from_days(days);
    Civil {
        year,
        month,
        day,
        hour: (rest / HOUR) as u32,
        minute: (rest % HOUR / MINUTE) as u32,
        second: (rest % MINUTE / SECOND) as u32,
        nanos: (rest % SECOND) as u32,
    }
}

/// Nanoseconds since the epoch of a civil datetime, or an error if it overflows.
fn to_ns(year: i64, month: u32, day: u32, secs_of_day: i64, nanos: i64) -> Option<i64> {
    days_from_civil(year, month, day)
        .checked_mul(DAY)?
        .checked_add(secs_of_day.checked_mul(SECOND)?)?
        .checked_add(nanos)
}

/// A datetime as NumPy prints it: the date, then the time of day if it is not midnight, then
/// the fraction of the second if it is not whole (`NaT` for [`NAT`]).
///
/// # Examples
/// ```
/// use ndtask_labelled::time::{format, parse};
/// assert_eq!(format(parse("2013-01-01")?.0), "2013-01-01");
/// assert_eq!(format(parse("2014-12-31T18:00")?.0), "2014-12-31T18:00:00");
/// # Ok::<(), ndtask_core::Error>(())
/// ```
pub fn format(ns: i64) -> String {
    if ns == NAT {
        return "NaT".into();
    }
    let c = civil(ns);
    let date = format!("{:04}-{:02}-{:02}", c.year, c.month, c.day);
    if (c.hour, c.minute, c.second, c.nanos) == (0, 0, 0, 0) {
        return date;
    }
    let mut s = format!("{date}T{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
    if c.nanos != 0 {
        let frac = format!("{:09}", c.nanos);
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s
}

/// The full ISO form (always with the time of day), for files.
pub(crate) fn format_full(ns: i64) -> String {
    let c = civil(ns);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

fn bad(s: &str, why: &str) -> Error {
    Error::InvalidArgument(format!("the datetime {s:?} {why}"))
}

fn number(_s: &str, part: &str, whole: &str) -> Result<i64> {
    if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(whole, "is not YYYY[-MM[-DD[THH[:MM[:SS[.fff]]]]]]"));
    }
    part.parse::<i64>()
        .map_err(|_| bad(whole, "has a number out of range"))
}

/// Parses a whole or partial ISO datetime ("2013", "2013-05", "2013-05-01",
/// "2013-05-01T06", "2013-05-01 06:30:00.5"): the first nanosecond it names and the first
/// one after the span its resolution covers (the month of "2013-05").
///
/// # Errors
/// [`Error::InvalidArgument`] naming the string, for anything else.
pub fn parse(s: &str) -> Result<(i64, i64)> {
    let t = s.trim();
    let t = t
        .strip_suffix('Z')
        .or_else(|| t.strip_suffix("+00:00"))
        .or_else(|| t.strip_suffix(" UTC"))
        .unwrap_or(t)
        .trim();
    let (date, time) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], Some(t[i + 1..].trim())),
        None => (t, None),
    };
    let mut parts = date.splitn(3, '-');
    let year = number(s, parts.next().unwrap_or(""), s)?;
    let month = match parts.next() {
        Some(m) => Some(number(s, m, s)?),
        None => None,
    };
    let day = match parts.next() {
        Some(d) => Some(number(s, d, s)?),
        None => None,
    };
    let m = month.unwrap_or(1);
    if !(1..=12).contains(&m) {
        return Err(bad(s, &format!("has month {m}")));
    }
    let m = m as u32;
    let d = day.unwrap_or(1);
    if d < 1 || d > i64::from(days_in_month(year, m)) {
        return Err(bad(s, &format!("has day {d}, not in {year}-{m:02}")));
    }
    let d = d as u32;
    if time.is_some() && day.is_none() {
        return Err(bad(s, "has a time of day without a day"));
    }
    // The time of day: hours, minutes, seconds with a fraction.
    let (mut secs, mut nanos, mut unit) = (0i64, 0i64, DAY);
    if month.is_none() {
        unit = 0; // a year
    } else if day.is_none() {
        unit = -1; // a month
    }
    if let Some(time) = time.filter(|t| !t.is_empty()) {
        let mut hms = time.splitn(3, ':');
        let h = number(s, hms.next().unwrap_or(""), s)?;
        unit = HOUR;
        let mi = match hms.next() {
            Some(x) => {
                unit = MINUTE;
                number(s, x, s)?
            }
            None => 0,
        };
        let (sec, frac) = match hms.next() {
            Some(x) => {
                let (w, f) = x.split_once('.').unwrap_or((x, ""));
                unit = SECOND;
                (number(s, w, s)?, f)
            }
            None => (0, ""),
        };
        if h > 23 || mi > 59 || sec > 60 {
            return Err(bad(s, "has a time of day out of range"));
        }
        if !frac.is_empty() {
            if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(s, "has a fraction of a second beyond nanoseconds"));
            }
            nanos = number(s, frac, s)? * 10i64.pow(9 - frac.len() as u32);
            unit = 10i64.pow(9 - frac.len() as u32);
        }
        secs = h * 3600 + mi * 60 + sec;
    }
    let start = to_ns(year, m, d, secs, nanos).ok_or_else(|| bad(s, "is out of range"))?;
    let end = match unit {
        0 => to_ns(year + 1, 1, 1, 0, 0),
        -1 => {
            let (y, mm) = if m == 12 {
                (year + 1, 1)
            } else {
                (year, m + 1)
            };
            to_ns(y, mm, 1, 0, 0)
        }
        u => start.checked_add(u),
    }
    .ok_or_else(|| bad(s, "is out of range"))?;
    Ok((start, end))
}

/// A CF time unit in nanoseconds ("hours" → 3_600_000_000_000).
fn unit_ns(unit: &str) -> Option<i64> {
    Some(match unit.to_ascii_lowercase().as_str() {
        "days" | "day" | "d" => DAY,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "minutes" | "minute" | "mins" | "min" => MINUTE,
        "seconds" | "second" | "secs" | "sec" | "s" => SECOND,
        "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 1_000_000,
        "microseconds" | "microsecond" | "usecs" | "usec" | "us" => 1_000,
        "nanoseconds" | "nanosecond" | "ns" => 1,
        _ => return None,
    })
}

/// CF time units: `"<unit> since <reference datetime>"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnits {
    /// The unit in nanoseconds.
    pub unit: i64,
    /// The reference datetime in nanoseconds since the epoch.
    pub reference: i64,
}

impl TimeUnits {
    /// Parses CF units ("hours since 1800-01-01", "days since 1970-1-1 00:00:00.0"); `None`
    /// when they are not time units.
    pub fn parse(units: &str) -> Option<TimeUnits> {
        let (unit, reference) = units.split_once(" since ")?;
        let unit = unit_ns(unit.trim())?;
        // References such as "1800-1-1 0:0:0": pad the parts before parsing.
        let r = reference.trim();
        let (date, time) = match r.find(['T', ' ']) {
            Some(i) => (&r[..i], r[i + 1..].trim()),
            None => (r, ""),
        };
        let date: Vec<String> = date
            .split('-')
            .enumerate()
            .map(|(i, p)| {
                if i > 0 && p.len() == 1 {
                    format!("0{p}")
                } else {
                    p.to_string()
                }
            })
            .collect();
        let date = date.join("-");
        let time = time
            .split_whitespace()
            .next()
            .filter(|t| t.contains(':'))
            .map(|t| {
                t.split(':')
                    .map(|p| {
                        let (w, f) = p.split_once('.').unwrap_or((p, ""));
                        let w = if w.len() == 1 {
                            format!("0{w}")
                        } else {
                            w.to_string()
                        };
                        if f.trim_end_matches('0').is_empty() {
                            w
                        } else {
                            format!("{w}.{f}")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(":")
            });
        let text = match time {
            Some(t) => format!("{date}T{t}"),
            None => date,
        };
        let (reference, _) = parse(&text).ok()?;
        Some(TimeUnits { unit, reference })
    }

    /// The units as CF writes them ("hours since 2013-01-01 00:00:00").
    pub fn format(&self) -> String {
        let name = match self.unit {
            DAY => "days",
            HOUR => "hours",
            MINUTE => "minutes",
            SECOND => "seconds",
            1_000_000 => "milliseconds",
            1_000 => "microseconds",
            _ => "nanoseconds",
        };
        format!("{name} since {}", format_full(self.reference))
    }

    /// The datetime of a stored number (NaN and overflow give [`NAT`]).
    pub fn decode_f64(&self, v: f64) -> i64 {
        if !v.is_finite() {
            return NAT;
        }
        let ns = (v * self.unit as f64).round();
        if ns.abs() >= 9.2e18 {
            return NAT;
        }
        (ns as i64).checked_add(self.reference).unwrap_or(NAT)
    }

    /// The datetime of a stored integer (overflow gives [`NAT`]).
    pub fn decode_i64(&self, v: i64) -> i64 {
        v.checked_mul(self.unit)
            .and_then(|ns| ns.checked_add(self.reference))
            .unwrap_or(NAT)
    }

    /// The stored number of a datetime: whole units where it falls on one, else a fraction.
    pub fn encode(&self, ns: i64) -> f64 {
        if ns == NAT {
            return f64::NAN;
        }
        let d = ns.saturating_sub(self.reference);
        if d % self.unit == 0 {
            (d / self.unit) as f64
        } else {
            d as f64 / self.unit as f64
        }
    }

    /// The units Xarray would choose for `times`: the coarsest unit that divides every
    /// difference from the first (day, hour, minute, second, ...), since the first's midnight
    /// when the unit allows, else the first itself.
    pub fn infer(times: &[i64]) -> TimeUnits {
        let valid: Vec<i64> = times.iter().copied().filter(|&t| t != NAT).collect();
        let first = valid.iter().copied().min().unwrap_or(0);
        let midnight = first.div_euclid(DAY) * DAY;
        for unit in [DAY, HOUR, MINUTE, SECOND, 1_000_000, 1_000, 1] {
            for reference in [midnight, first] {
                if valid.iter().all(|&t| (t - reference) % unit == 0) {
                    return TimeUnits { unit, reference };
                }
            }
        }
        TimeUnits {
            unit: 1,
            reference: first,
        }
    }
}

/// A datetime component, as Xarray's `time.month`, `time.season`, ...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// The year.
    Year,
    /// The month, 1 to 12.
    Month,
    /// The day of the month.
    Day,
    /// The hour.
    Hour,
    /// The minute.
    Minute,
    /// The second.
    Second,
    /// The day of the year, 1 to 366.
    DayOfYear,
    /// The day of the week, Monday 0 to Sunday 6.
    DayOfWeek,
    /// The meteorological season: "DJF", "MAM", "JJA" or "SON".
    Season,
    /// The date at midnight (Xarray's `time.date`, as a datetime).
    Date,
}

impl Component {
    /// The component of a name ("month", "season", "dayofyear", ...).
    pub fn parse(name: &str) -> Option<Component> {
        Some(match name {
            "year" => Component::Year,
            "month" => Component::Month,
            "day" => Component::Day,
            "hour" => Component::Hour,
            "minute" => Component::Minute,
            "second" => Component::Second,
            "dayofyear" | "doy" => Component::DayOfYear,
            "dayofweek" | "weekday" => Component::DayOfWeek,
            "season" => Component::Season,
            "date" => Component::Date,
            _ => return None,
        })
    }

    /// The names [`Component::parse`] knows.
    pub const NAMES: &'static str =
        "year, month, day, hour, minute, second, dayofyear, dayofweek, season, date";

    /// The component of `ns` as a number (for the season, its index in "DJF", "MAM", "JJA",
    /// "SON"; for the date, nanoseconds at midnight).
    pub fn of(self, ns: i64) -> i64 {
        let c = civil(ns);
        match self {
            Component::Year => c.year,
            Component::Month => i64::from(c.month),
            Component::Day => i64::from(c.day),
            Component::Hour => i64::from(c.hour),
            Component::Minute => i64::from(c.minute),
            Component::Second => i64::from(c.second),
            Component::DayOfYear => ns.div_euclid(DAY) - days_from_civil(c.year, 1, 1) + 1,
            Component::DayOfWeek => (ns.div_euclid(DAY) + 3).rem_euclid(7),
            Component::Season => i64::from(c.month % 12 / 3),
            Component::Date => ns.div_euclid(DAY) * DAY,
        }
    }
}

/// The season names, by [`Component::Season`]'s number.
pub const SEASONS: [&str; 4] = ["DJF", "MAM", "JJA", "SON"];

/// A resampling frequency: a fixed span, or calendar months or years.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freq {
    /// Bins of a fixed number of nanoseconds from the first day's midnight, labelled by their
    /// start ("1D", "6h", "30min", "10s").
    Fixed(i64),
    /// Bins of `n` calendar months labelled by their first day ("MS") or last day ("ME").
    Months {
        /// Months per bin.
        n: u32,
        /// Labelled by the last day of the bin.
        end: bool,
        /// Bins start on quarters or years (QS, YS), not at the first time's month.
        aligned: bool,
    },
}

impl Freq {
    /// Parses a pandas frequency: `<n>` (optional) and one of D, h (H), min (T), s (S), ms,
    /// us, ns, W (7 days), MS, ME (M), QS, QE, YS (AS), YE (A, Y).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the frequency and the ones known.
    pub fn parse(freq: &str) -> Result<Freq> {
        let f = freq.trim();
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        let n: i64 = if digits == 0 {
            1
        } else {
            f[..digits]
                .parse()
                .map_err(|_| Error::InvalidArgument(format!("frequency {freq:?}")))?
        };
        let unit = &f[digits..];
        let months = |k: i64, end: bool| -> Result<Freq> {
            let n = u32::try_from(n * k)
                .ok()
                .filter(|&n| n > 0)
                .ok_or_else(|| Error::InvalidArgument(format!("frequency {freq:?}")))?;
            Ok(Freq::Months {
                n,
                end,
                aligned: k > 1,
            })
        };
        let fixed = match unit {
            "D" => DAY,
            "W" => 7 * DAY,
            "h" | "H" => HOUR,
            "min" | "T" => MINUTE,
            "s" | "S" => SECOND,
            "ms" | "L" => 1_000_000,
            "us" | "U" => 1_000,
            "ns" | "N" => 1,
            "MS" => return months(1, false),
            "ME" | "M" => return months(1, true),
            "QS" => return months(3, false),
            "QE" | "Q" => return months(3, true),
            "YS" | "AS" => return months(12, false),
            "YE" | "A" | "Y" => return months(12, true),
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "unknown frequency {freq:?}: use <n> and one of D, W, h, min, s, ms, us, ns, \
                     MS, ME, QS, QE, YS, YE"
                )))
            }
        };
        n.checked_mul(fixed)
            .filter(|&v| v > 0)
            .map(Freq::Fixed)
            .ok_or_else(|| Error::InvalidArgument(format!("frequency {freq:?} is out of range")))
    }

    /// The bins covering `times` (NaT in none): the label of each bin, and the bin of each
    /// time.
    pub fn bins(&self, times: &[i64]) -> (Vec<i64>, Vec<Option<usize>>) {
        let valid = times.iter().copied().filter(|&t| t != NAT);
        let (Some(lo), Some(hi)) = (valid.clone().min(), valid.max()) else {
            return (Vec::new(), vec![None; times.len()]);
        };
        match *self {
            Freq::Fixed(span) => {
                let origin = lo.div_euclid(DAY) * DAY;
                let first = origin + (lo - origin).div_euclid(span) * span;
                let n = ((hi - first).div_euclid(span) + 1) as usize;
                let labels = (0..n as i64).map(|k| first + k * span).collect();
                let codes = times
                    .iter()
                    .map(|&t| (t != NAT).then(|| ((t - first).div_euclid(span)) as usize))
                    .collect();
                (labels, codes)
            }
            Freq::Months { n, end, aligned } => {
                let month_index = |t: i64| {
                    let c = civil(t);
                    c.year * 12 + i64::from(c.month) - 1
                };
                // Quarters and years start on January as pandas anchors them; n months from the
                // first time's month.
                let n = i64::from(n);
                let start = if aligned {
                    month_index(lo).div_euclid(n) * n
                } else {
                    month_index(lo)
                };
                let count = ((month_index(hi) - start).div_euclid(n) + 1) as usize;
                let labels = (0..count as i64)
                    .map(|k| {
                        let m0 = start + k * n;
                        if end {
                            let last = m0 + n - 1;
                            let (y, m) = (last.div_euclid(12), (last.rem_euclid(12) + 1) as u32);
                            days_from_civil(y, m, days_in_month(y, m)) * DAY
                        } else {
                            days_from_civil(m0.div_euclid(12), (m0.rem_euclid(12) + 1) as u32, 1)
                                * DAY
                        }
                    })
                    .collect();
                let codes = times
                    .iter()
                    .map(|&t| (t != NAT).then(|| (month_index(t) - start).div_euclid(n) as usize))
                    .collect();
                (labels, codes)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips() {
        for days in [-800_000i64, -1, 0, 1, 15_706, 16_435, 2_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn partial_strings_cover_their_resolution() {
        let (a, b) = parse("2013-05").unwrap();
        assert_eq!(format(a), "2013-05-01");
        assert_eq!(format(b), "2013-06-01");
        let (a, b) = parse("2013").unwrap();
        assert_eq!(
            (format(a), format(b)),
            ("2013-01-01".into(), "2014-01-01".into())
        );
        let (a, b) = parse("2013-12-31T18").unwrap();
        assert_eq!(b - a, HOUR);
        assert_eq!(format(a), "2013-12-31T18:00:00");
        let (a, b) = parse("2013-01-01 06:30:00.25").unwrap();
        assert_eq!(format(a), "2013-01-01T06:30:00.25");
        assert_eq!(b - a, 10_000_000);
        for bad in ["2013-13", "2013-02-29", "x", "2013-01-01T25", "2013T06"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cf_units() {
        let u = TimeUnits::parse("hours since 1800-01-01").unwrap();
        assert_eq!(u.unit, HOUR);
        assert_eq!(format(u.decode_f64(1_876_200.0)), "2014-01-14");
        let u = TimeUnits::parse("days since 1970-1-1 0:0:0.0").unwrap();
        assert_eq!(u.reference, 0);
        assert!(TimeUnits::parse("meters").is_none());
        let times = [
            parse("2013-01-01T06").unwrap().0,
            parse("2013-01-01T12").unwrap().0,
        ];
        let u = TimeUnits::infer(&times);
        assert_eq!(u.format(), "hours since 2013-01-01 00:00:00");
        assert_eq!(u.encode(times[1]), 12.0);
    }

    #[test]
    fn components_and_bins() {
        let t = parse("2013-03-01T06").unwrap().0;
        assert_eq!(Component::DayOfYear.of(t), 60);
        assert_eq!(Component::Season.of(t), 1);
        assert_eq!(Component::DayOfWeek.of(t), 4); // a Friday
        let times: Vec<i64> = (0..10).map(|k| t + k * 9 * HOUR).collect();
        let (labels, codes) = Freq::parse("1D").unwrap().bins(&times);
        assert_eq!(labels.len(), 4);
        assert_eq!(codes[0], Some(0));
        assert_eq!(codes[9], Some(3));
        let (labels, _) = Freq::parse("ME").unwrap().bins(&times);
        assert_eq!(format(labels[0]), "2013-03-31");
        assert!(Freq::parse("3X").is_err());
    }
}
