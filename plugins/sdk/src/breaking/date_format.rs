//! How a config date is written, for [`super::ConfigChange::Reformat`].
//!
//! Connectors change the format a config date must be written in (timely 1.0.0 wants its
//! `start_date` as `YYYY-MM-DDTHH:mm:ssZ` where 0.4.13 took `YYYY-MM-DD`). The rewrite must
//! be exact and never a guess, so a [`DateFormat`] reads only the one pattern it is given,
//! checks the calendar (no 31 April, 29 February only in a leap year) and refuses to write
//! a value into a pattern that would lose part of it. Eight tokens cover the formats
//! Airbyte's specs use; a date library in the wasm engine would be far more than this needs.
//!
//! Tokens: `YYYY` (year), `MM` (month), `DD` (day), `HH` (hour, 00–23), `mm` (minute), `ss`
//! (second, 00–59), `SSS` (milliseconds) and `SSSSSS` (microseconds: the file-based CDK's
//! `%Y-%m-%dT%H:%M:%S.%fZ`, as sftp-bulk 1.0.0 and s3 4.x take their `start_date`), each a
//! fixed number of digits and used at most once; `SSS` and `SSSSSS` both write the fraction
//! of the second, so a pattern has at most one of them, and `.123` read by `SSS` is written
//! `.123000` by `SSSSSS`, while `.123456` cannot be written by `SSS` (nor `.000001` by a
//! pattern with no fraction). A pattern has at least `YYYY`, `MM` and `DD`. Every other character is matched
//! literally, but among letters only `T` and `Z` may be literals, so a mistyped token (`YY`,
//! `hh`) is refused instead of being matched as text. There is no time-zone arithmetic: a
//! `Z` is a literal, and a value is carried figure for figure (`2024-01-31` written as
//! `YYYY-MM-DDTHH:mm:ssZ` is `2024-01-31T00:00:00Z`, the start of that day).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A date pattern such as `YYYY-MM-DD` or `YYYY-MM-DDTHH:mm:ssZ` (see the module docs),
/// kept in a table as its pattern text; a table with a pattern it refuses does not load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DateFormat {
    pattern: String,
    parts: Vec<Part>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Field(Field),
    Literal(char),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Field {
    Year,
    Month,
    Day,
    Hour,
    Minute,
    Second,
    Millis,
    Micros,
}

/// The tokens, longest first so `SSSSSS` is not read as `SSS` twice.
const TOKENS: [(&str, Field); 8] = [
    ("YYYY", Field::Year),
    ("SSSSSS", Field::Micros),
    ("SSS", Field::Millis),
    ("MM", Field::Month),
    ("DD", Field::Day),
    ("HH", Field::Hour),
    ("mm", Field::Minute),
    ("ss", Field::Second),
];

impl Field {
    fn width(self) -> usize {
        match self {
            Field::Year => 4,
            Field::Millis => 3,
            Field::Micros => 6,
            _ => 2,
        }
    }

    /// Where the field's value is kept in a [`Moment`]: both fractions in the last place.
    fn index(self) -> usize {
        match self {
            Field::Micros => Field::Millis as usize,
            _ => self as usize,
        }
    }

    /// How many microseconds one unit of the field is (1 but for a fraction in millis).
    fn scale(self) -> u32 {
        match self {
            Field::Millis => 1000,
            _ => 1,
        }
    }

    fn is_fraction(self) -> bool {
        matches!(self, Field::Millis | Field::Micros)
    }
}

/// A date and time read from a value: year, month, day, hour, minute, second, and the
/// fraction of the second in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Moment([u32; 7]);

impl DateFormat {
    /// Reads a pattern, refusing one with an unknown letter, a repeated token or no date.
    pub fn parse(pattern: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut rest = pattern;
        while let Some(c) = rest.chars().next() {
            if let Some((token, field)) = TOKENS.iter().find(|(t, _)| rest.starts_with(t)) {
                if parts.contains(&Part::Field(*field)) {
                    return Err(format!("date format {pattern:?} repeats {token}"));
                }
                let fraction = |p: &Part| matches!(p, Part::Field(f) if f.is_fraction());
                if field.is_fraction() && parts.iter().any(fraction) {
                    return Err(format!(
                        "date format {pattern:?} has two fractions of the second (SSS and SSSSSS)"
                    ));
                }
                parts.push(Part::Field(*field));
                rest = &rest[token.len()..];
                continue;
            }
            if c.is_ascii_alphanumeric() && c != 'T' && c != 'Z' {
                return Err(format!(
                    "date format {pattern:?} has {c:?}, which is neither a token (YYYY MM DD HH mm ss SSS SSSSSS) nor a literal T or Z"
                ));
            }
            parts.push(Part::Literal(c));
            rest = &rest[c.len_utf8()..];
        }
        for (token, field) in &TOKENS[..] {
            let date = matches!(field, Field::Year | Field::Month | Field::Day);
            if date && !parts.contains(&Part::Field(*field)) {
                return Err(format!("date format {pattern:?} has no {token}"));
            }
        }
        Ok(DateFormat {
            pattern: pattern.to_owned(),
            parts,
        })
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The moment `value` writes, if it is exactly in this format and a real date and time.
    pub fn read(&self, value: &str) -> Option<Moment> {
        let mut moment = Moment::default();
        let mut rest = value;
        for part in &self.parts {
            match *part {
                Part::Literal(c) => rest = rest.strip_prefix(c)?,
                Part::Field(field) => {
                    let digits = rest.get(..field.width())?;
                    if !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return None;
                    }
                    moment.0[field.index()] = digits.parse::<u32>().ok()? * field.scale();
                    rest = &rest[field.width()..];
                }
            }
        }
        (rest.is_empty() && moment.is_real()).then_some(moment)
    }

    /// `moment` in this format, unless the format cannot hold it whole (a time of day
    /// written into a date-only format, or microseconds into milliseconds, would be lost).
    pub fn write(&self, moment: &Moment) -> Option<String> {
        let held = |field: Field| self.parts.contains(&Part::Field(field));
        let lost = [Field::Hour, Field::Minute, Field::Second]
            .into_iter()
            .any(|f| !held(f) && moment.0[f.index()] != 0);
        // The finest fraction the format holds, in microseconds (none: a whole second).
        let unit = [Field::Micros, Field::Millis]
            .into_iter()
            .find(|f| held(*f))
            .map_or(1_000_000, Field::scale);
        if lost || !moment.0[Field::Millis.index()].is_multiple_of(unit) {
            return None;
        }
        let mut out = String::with_capacity(self.pattern.len());
        for part in &self.parts {
            match *part {
                Part::Literal(c) => out.push(c),
                Part::Field(field) => {
                    let width = field.width();
                    let value = moment.0[field.index()] / field.scale();
                    out.push_str(&format!("{value:0width$}"));
                }
            }
        }
        Some(out)
    }
}

impl Moment {
    fn is_real(&self) -> bool {
        let [year, month, day, hour, minute, second, _] = self.0;
        let days = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return false,
        };
        (1..=days).contains(&day) && hour < 24 && minute < 60 && second < 60
    }
}

impl fmt::Display for DateFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.pattern)
    }
}

impl TryFrom<String> for DateFormat {
    type Error = String;

    fn try_from(pattern: String) -> Result<Self, String> {
        DateFormat::parse(&pattern)
    }
}

impl From<DateFormat> for String {
    fn from(format: DateFormat) -> String {
        format.pattern
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(pattern: &str) -> DateFormat {
        DateFormat::parse(pattern).unwrap()
    }

    fn rewrite(from: &str, to: &str, value: &str) -> Option<String> {
        format(to).write(&format(from).read(value)?)
    }

    #[test]
    fn a_date_becomes_the_start_of_its_day() {
        let z = "YYYY-MM-DDTHH:mm:ssZ";
        assert_eq!(
            rewrite("YYYY-MM-DD", z, "2024-01-31").as_deref(),
            Some("2024-01-31T00:00:00Z")
        );
        assert_eq!(
            rewrite("YYYY-MM-DD", "YYYY-MM-DDTHH:mm:ss.SSSZ", "2024-02-29").as_deref(),
            Some("2024-02-29T00:00:00.000Z")
        );
        assert_eq!(
            rewrite("DD/MM/YYYY", "YYYY-MM-DD", "07/03/2021").as_deref(),
            Some("2021-03-07")
        );
        assert_eq!(
            rewrite("YYYY-MM-DD HH:mm:ss", z, "2021-03-07 23:59:58").as_deref(),
            Some("2021-03-07T23:59:58Z")
        );
    }

    #[test]
    fn only_a_real_date_in_exactly_the_format_is_read() {
        let date = format("YYYY-MM-DD");
        for bad in [
            "2024-1-31",
            "2024-01-31T00:00:00Z",
            "2024-01-31 ",
            "24-01-31",
            "2024/01/31",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "２０２４-01-31",
            "",
        ] {
            assert_eq!(date.read(bad), None, "{bad:?}");
        }
        assert!(date.read("2000-02-29").is_some(), "2000 is a leap year");
        let time = format("YYYY-MM-DDTHH:mm:ssZ");
        for bad in [
            "2024-01-31T24:00:00Z",
            "2024-01-31T10:60:00Z",
            "2024-01-31T10:00:60Z",
            "2024-01-31T10:00:00",
            "2024-01-31T10:00:00+00:00",
        ] {
            assert_eq!(time.read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_time_of_day_is_never_dropped() {
        assert_eq!(
            rewrite("YYYY-MM-DDTHH:mm:ssZ", "YYYY-MM-DD", "2024-01-31T10:00:00Z"),
            None
        );
        assert_eq!(
            rewrite("YYYY-MM-DDTHH:mm:ssZ", "YYYY-MM-DD", "2024-01-31T00:00:00Z").as_deref(),
            Some("2024-01-31")
        );
        assert_eq!(
            rewrite(
                "YYYY-MM-DDTHH:mm:ss.SSSZ",
                "YYYY-MM-DDTHH:mm:ssZ",
                "2024-01-31T00:00:00.001Z"
            ),
            None
        );
    }

    #[test]
    fn microseconds_are_read_and_written_and_never_cut() {
        let micros = "YYYY-MM-DDTHH:mm:ss.SSSSSSZ";
        assert_eq!(
            rewrite("YYYY-MM-DDTHH:mm:ssZ", micros, "2024-01-01T10:20:30Z").as_deref(),
            Some("2024-01-01T10:20:30.000000Z")
        );
        assert_eq!(
            rewrite(
                "YYYY-MM-DDTHH:mm:ss.SSSZ",
                micros,
                "2024-01-01T10:20:30.123Z"
            )
            .as_deref(),
            Some("2024-01-01T10:20:30.123000Z")
        );
        assert_eq!(
            rewrite(
                micros,
                "YYYY-MM-DDTHH:mm:ss.SSSZ",
                "2024-01-01T10:20:30.123000Z"
            )
            .as_deref(),
            Some("2024-01-01T10:20:30.123Z")
        );
        assert_eq!(
            rewrite(micros, micros, "2024-01-01T10:20:30.999999Z").as_deref(),
            Some("2024-01-01T10:20:30.999999Z")
        );
        for lossy in ["YYYY-MM-DDTHH:mm:ss.SSSZ", "YYYY-MM-DDTHH:mm:ssZ"] {
            assert_eq!(
                rewrite(micros, lossy, "2024-01-01T10:20:30.123456Z"),
                None,
                "{lossy}"
            );
        }
        assert_eq!(
            rewrite(
                micros,
                "YYYY-MM-DDTHH:mm:ssZ",
                "2024-01-01T10:20:30.000001Z"
            ),
            None
        );
        let f = format(micros);
        for bad in [
            "2024-01-01T10:20:30.12345Z",
            "2024-01-01T10:20:30.123Z",
            "2024-01-01T10:20:30.1234567Z",
        ] {
            assert_eq!(f.read(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_pattern_with_an_unknown_letter_a_repeat_or_no_date_is_refused() {
        for bad in [
            "YY-MM-DD",
            "YYYY-MM-DDThh:mm:ssZ",
            "YYYY-MM-DD-DD",
            "YYYY-MM",
            "HH:mm",
            "YYYY-MM-DD+01",
            "YYYY-MM-DDTHH:mm:ss.SSS.SSSSSSZ",
            "YYYY-MM-DDTHH:mm:ss.SSSSSS.SSSZ",
        ] {
            let parsed = DateFormat::parse(bad);
            // `+01` has digits outside a token: refused like a letter.
            assert!(parsed.is_err(), "{bad:?} parsed as {parsed:?}");
        }
        let f = format("YYYY-MM-DDTHH:mm:ssZ");
        assert_eq!(f.pattern(), "YYYY-MM-DDTHH:mm:ssZ");
        let json = serde_json::to_string(&String::from(f.clone())).unwrap();
        assert_eq!(
            DateFormat::try_from(serde_json::from_str::<String>(&json).unwrap()),
            Ok(f)
        );
    }
}
