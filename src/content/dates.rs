//! Front-matter date parsing: every form Hugo accepts (and a few it silently mangles),
//! resolved to an instant. Dates without an offset are read in the configured time zone.
//!
//! Grammar (after trimming, and dropping a trailing ` # comment`):
//! `YYYY-MM-DD` [(`T`|`t`|spaces) `H[H]:MM`[`:SS`[`.frac`]]] [spaces] [zone] [spaces abbreviation]
//! where zone is `Z`, `UTC`, `GMT`, `+HH:MM`, `+HHMM`, `+HH` or `+H`. A trailing abbreviation
//! after a numeric offset (Go's `2019-03-12 13:35:48 +0000 UTC`) is ignored; alone, only
//! `UTC`/`GMT`/`Z` are understood.

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
};
use chrono_tz::Tz;

/// Dates before this year are refused (W3C feed validator: ImplausibleDate).
pub(crate) const MIN_YEAR: u32 = 1990;

/// Parses one front-matter date. The error is a sentence fragment without the field name.
pub(crate) fn parse_date(input: &str, tz: Tz) -> Result<DateTime<FixedOffset>, String> {
    let s = strip_comment(input).trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    let bad_form = || {
        format!("`{s}` is not a date: write it like 2019-03-12, 2019-03-12 13:35:48 or 2019-03-12T13:35:48+01:00")
    };
    let mut p = Cursor { s, i: 0 };

    let year = p.digits(4, 4).ok_or_else(bad_form)?;
    p.expect('-').ok_or_else(bad_form)?;
    let month = p.digits(1, 2).ok_or_else(bad_form)?;
    p.expect('-').ok_or_else(bad_form)?;
    let day = p.digits(1, 2).ok_or_else(bad_form)?;
    let date = NaiveDate::from_ymd_opt(year as i32, month, day)
        .ok_or_else(|| format!("`{s}` is not a real calendar date"))?;
    if year < 1000 {
        // Hugo's zero date `0001-01-01` is a placeholder, not a publication date.
        return Err(format!("`{s}` is a placeholder, not a publication date"));
    }
    if year < MIN_YEAR {
        // 1970-01-01 and friends come from scripts that wrote a zero timestamp; feed
        // validators call anything before 1990 implausible.
        return Err(format!(
            "`{s}` is before {MIN_YEAR}: feed validators reject it as implausible (a zero timestamp?)"
        ));
    }

    let mut time = NaiveTime::MIN;
    let save = p.i;
    let had_sep = p.eat('T') || p.eat('t') || p.spaces();
    if had_sep {
        if let Some(hour) = p.digits(1, 2) {
            p.expect(':').ok_or_else(bad_form)?;
            let minute = p.digits(2, 2).ok_or_else(bad_form)?;
            let (mut second, mut nanos) = (0, 0);
            if p.eat(':') {
                second = p.digits(2, 2).ok_or_else(bad_form)?;
                if p.eat('.') || p.eat(',') {
                    nanos = p.fraction().ok_or_else(bad_form)?;
                }
            }
            time = NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
                .filter(|_| second < 60)
                .ok_or_else(|| format!("`{s}` is not a real time of day"))?;
        } else {
            p.i = save;
        }
    }
    let naive = NaiveDateTime::new(date, time);

    p.spaces();
    let offset = p.zone().map_err(|()| bad_form())?;
    if offset.is_some() {
        // Go writes `+0000 UTC`; the abbreviation adds nothing once an offset is known.
        if p.spaces() {
            p.letters();
        }
    }
    p.spaces();
    if !p.done() {
        return Err(bad_form());
    }

    match offset {
        Some(off) => off
            .from_local_datetime(&naive)
            .single()
            .ok_or_else(|| format!("`{s}` is out of range")),
        None => Ok(in_zone(naive, tz)),
    }
}

/// A date at the start of a file name, as Hugo's `:filename` date rule reads it:
/// `2019-03-12-my-post.md` (or a leaf bundle `2019-03-12-my-post/index.md`) gives the date
/// and the slug `my-post`.
pub(crate) fn from_file_name(path: &str) -> Option<(NaiveDateTime, String)> {
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop()?;
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let name = if stem == "index" { parts.pop()? } else { stem };
    let day = chrono::NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()?;
    let rest = &name[10..];
    if !(rest.is_empty() || rest.starts_with('-') || rest.starts_with('_')) {
        return None;
    }
    let slug = rest.trim_start_matches(['-', '_']).to_string();
    Some((day.and_hms_opt(0, 0, 0)?, slug))
}

/// A naive date read in the site's zone.
pub(crate) fn in_site_zone(naive: NaiveDateTime, tz: Tz) -> DateTime<FixedOffset> {
    in_zone(naive, tz)
}

/// Resolves a wall-clock time in `tz`. In a fold (clocks set back) the earlier instant is
/// taken; in a gap (clocks set forward) the time is read with the offset in force just
/// before the gap, which lands the same distance past the transition (02:30 → 03:30 in a
/// one-hour spring-forward gap). Both are deterministic.
fn in_zone(naive: NaiveDateTime, tz: Tz) -> DateTime<FixedOffset> {
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => dt.fixed_offset(),
        LocalResult::Ambiguous(a, b) => a.min(b).fixed_offset(),
        LocalResult::None => {
            let before = tz
                .from_local_datetime(&(naive - Duration::hours(12)))
                .earliest()
                .map(|d| d.fixed_offset().offset().local_minus_utc())
                .unwrap_or(0);
            let utc = naive - Duration::seconds(i64::from(before));
            tz.from_utc_datetime(&utc).fixed_offset()
        }
    }
}

/// Drops a trailing ` # comment` (YAML strips these from plain scalars, but not from
/// quoted strings or TOML strings).
fn strip_comment(s: &str) -> &str {
    match s.find(" #").or_else(|| s.find("\t#")) {
        Some(i) => &s[..i],
        None => s,
    }
}

struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c as u8) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Option<()> {
        self.eat(c).then_some(())
    }

    fn spaces(&mut self) -> bool {
        let start = self.i;
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
        self.i > start
    }

    fn letters(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// Between `min` and `max` ASCII digits.
    fn digits(&mut self, min: usize, max: usize) -> Option<u32> {
        let start = self.i;
        while self.i - start < max && self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        if self.i - start < min {
            self.i = start;
            return None;
        }
        self.s[start..self.i].parse().ok()
    }

    /// Fractional seconds → nanoseconds (extra digits beyond nanoseconds are dropped).
    fn fraction(&mut self) -> Option<u32> {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        let frac = &self.s[start..self.i];
        if frac.is_empty() {
            return None;
        }
        let mut padded: String = frac.chars().take(9).collect();
        while padded.len() < 9 {
            padded.push('0');
        }
        padded.parse().ok()
    }

    /// An optional zone; `Err` when something zone-like is malformed.
    fn zone(&mut self) -> Result<Option<FixedOffset>, ()> {
        match self.peek() {
            Some(b'Z' | b'z') => {
                self.i += 1;
                Ok(FixedOffset::east_opt(0))
            }
            Some(b'+' | b'-') => {
                let sign = if self.peek() == Some(b'-') { -1 } else { 1 };
                self.i += 1;
                let hours = self.digits(1, 2).ok_or(())?;
                let minutes = if self.eat(':') {
                    self.digits(2, 2).ok_or(())?
                } else {
                    self.digits(2, 2).unwrap_or(0)
                };
                if hours > 23 || minutes > 59 {
                    return Err(());
                }
                FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60) as i32)
                    .map(Some)
                    .ok_or(())
            }
            Some(b) if b.is_ascii_alphabetic() => {
                let start = self.i;
                match self.letters().to_ascii_uppercase().as_str() {
                    "UTC" | "GMT" | "Z" | "UT" => Ok(FixedOffset::east_opt(0)),
                    _ => {
                        self.i = start;
                        Err(())
                    }
                }
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> String {
        parse_date(s, chrono_tz::UTC)
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn accepted_forms() {
        let cases = [
            ("2019-03-12T13:35:48Z", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12", "2019-03-12T00:00:00+00:00"),
            ("2019-03-12 13:35:48", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12T13:35:48", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12 13:35", "2019-03-12T13:35:00+00:00"),
            ("2019-03-12T9:30:00", "2019-03-12T09:30:00+00:00"),
            (
                "2019-03-12T13:35:48.123456Z",
                "2019-03-12T13:35:48.123456+00:00",
            ),
            (
                "2019-03-12T13:35:48.1234567891Z",
                "2019-03-12T13:35:48.123456789+00:00",
            ),
            ("2019-03-12T13:35:48+01:00", "2019-03-12T13:35:48+01:00"),
            ("2019-03-12T13:35:48+0100", "2019-03-12T13:35:48+01:00"),
            ("2019-03-12T13:35:48+1300", "2019-03-12T13:35:48+13:00"),
            ("2019-03-12T13:35:48+01", "2019-03-12T13:35:48+01:00"),
            ("2019-03-12T13:35:48-05:30", "2019-03-12T13:35:48-05:30"),
            ("2001-12-14 21:59:43.10 -5", "2001-12-14T21:59:43.100-05:00"),
            ("2019-03-12 13:35:48 UTC", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12 13:35:48 +0000 UTC", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12 13:35:48 +0100 CET", "2019-03-12T13:35:48+01:00"),
            ("2019-03-12T13:35:48Z UTC", "2019-03-12T13:35:48+00:00"),
            ("2019-03-12t13:35:48z", "2019-03-12T13:35:48+00:00"),
            ("  2019-03-12T13:35:48Z  \t", "2019-03-12T13:35:48+00:00"),
            (
                "2019-03-12T13:35:48Z # imported",
                "2019-03-12T13:35:48+00:00",
            ),
            ("2019-3-2", "2019-03-02T00:00:00+00:00"),
            ("2020-02-29", "2020-02-29T00:00:00+00:00"),
        ];
        for (input, want) in cases {
            assert_eq!(utc(input), want, "input {input:?}");
        }
    }

    #[test]
    fn rejected_forms() {
        let cases = [
            ("2019-02-30", "not a real calendar date"),
            ("2019-02-29", "not a real calendar date"),
            ("2019-13-01", "not a real calendar date"),
            ("2019-03-12 25:00", "not a real time of day"),
            ("2019-03-12T13:60:00", "not a real time of day"),
            ("2019-03-12T13:35:60", "not a real time of day"),
            ("", "is empty"),
            ("yesterday", "is not a date"),
            ("12/03/2019", "is not a date"),
            ("2019-03-12T13:35:48 PST", "is not a date"),
            ("2019-03-12T13:35:48+25:00", "is not a date"),
            ("2019-03-12T13", "is not a date"),
            ("2019-03-12 13:35:48 and more", "is not a date"),
            ("2019-01-01garbage", "is not a date"),
            ("0001-01-01T00:00:00Z", "placeholder"),
        ];
        for (input, want) in cases {
            let got = utc(input);
            assert!(
                got.starts_with("ERR") && got.contains(want),
                "input {input:?}: {got}"
            );
        }
    }

    #[test]
    fn naive_times_use_the_configured_zone() {
        let paris = chrono_tz::Europe::Paris;
        let winter = parse_date("2019-01-15 10:00:00", paris).unwrap();
        assert_eq!(winter.to_rfc3339(), "2019-01-15T10:00:00+01:00");
        let summer = parse_date("2019-07-15", paris).unwrap();
        assert_eq!(summer.to_rfc3339(), "2019-07-15T00:00:00+02:00");
        // An explicit offset wins over the configured zone.
        let explicit = parse_date("2019-07-15T10:00:00Z", paris).unwrap();
        assert_eq!(explicit.to_rfc3339(), "2019-07-15T10:00:00+00:00");
    }

    #[test]
    fn dst_gaps_and_folds_are_deterministic() {
        let paris = chrono_tz::Europe::Paris;
        // 2019-03-31 02:30 does not exist in Paris (02:00 → 03:00).
        let gap = parse_date("2019-03-31 02:30:00", paris).unwrap();
        assert_eq!(gap.to_rfc3339(), "2019-03-31T03:30:00+02:00");
        // 2019-10-27 02:30 happens twice; the earlier one (+02:00) is taken.
        let fold = parse_date("2019-10-27 02:30:00", paris).unwrap();
        assert_eq!(fold.to_rfc3339(), "2019-10-27T02:30:00+02:00");
    }
}
