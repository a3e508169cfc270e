//! `schedule.window`: the days and local hours in which deliveries may go.
//!
//! Local times follow an IANA time zone, so a window keeps its local hours
//! across daylight-saving changes. Hours may cross midnight (`22:00-06:00`);
//! the hours after midnight belong to the day the window opened.

use jiff::Timestamp;
use jiff::tz::TimeZone;

#[derive(Debug, Clone)]
pub struct Window {
    /// Monday first.
    days: [bool; 7],
    /// Minutes after local midnight; `end` may be 1440 (`24:00`).
    start: u16,
    end: u16,
    tz: TimeZone,
    tz_name: String,
}

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Window {
    /// A window from its three settings; every setting that is wrong is
    /// reported, not only the first.
    pub fn new(days: &str, hours: &str, timezone: &str) -> Result<Window, Vec<WindowError>> {
        let days = parse_days(days).map_err(WindowError::Days);
        let hours = parse_hours(hours).map_err(WindowError::Hours);
        let tz = TimeZone::get(timezone).map_err(|_| {
            WindowError::Timezone(format!(
                "`{timezone}` is not an IANA time zone (e.g. `Europe/Lisbon`, `America/New_York`, `UTC`)"
            ))
        });
        match (days, hours, tz) {
            (Ok(days), Ok((start, end)), Ok(tz)) => Ok(Window {
                days,
                start,
                end,
                tz,
                tz_name: timezone.to_owned(),
            }),
            (days, hours, tz) => Err([days.err(), hours.err(), tz.err()]
                .into_iter()
                .flatten()
                .collect()),
        }
    }

    /// Whether deliveries may go at `now`.
    pub fn contains(&self, now: Timestamp) -> bool {
        let local = self.tz.to_datetime(now);
        let day = local.weekday().to_monday_zero_offset() as usize;
        let minute = local.hour() as u16 * 60 + local.minute() as u16;
        if self.start < self.end {
            self.days[day] && (self.start..self.end).contains(&minute)
        } else {
            // Crosses midnight: the early hours belong to the day before.
            (self.days[day] && minute >= self.start)
                || (self.days[(day + 6) % 7] && minute < self.end)
        }
    }

    /// The first minute at or after `now` inside the window (within two weeks).
    pub fn next_open(&self, now: Timestamp) -> Option<Timestamp> {
        if self.contains(now) {
            return Some(now);
        }
        let mut t = now
            .checked_add(jiff::SignedDuration::from_secs(
                60 - now.as_second().rem_euclid(60),
            ))
            .ok()?;
        for _ in 0..(14 * 24 * 60) {
            if self.contains(t) {
                return Some(t);
            }
            t = t.checked_add(jiff::SignedDuration::from_mins(1)).ok()?;
        }
        None
    }

    pub fn describe(&self) -> String {
        let days: Vec<&str> = DAY_NAMES
            .iter()
            .zip(self.days)
            .filter_map(|(name, on)| on.then_some(*name))
            .collect();
        format!(
            "{} {:02}:{:02}-{:02}:{:02} {}",
            days.join(","),
            self.start / 60,
            self.start % 60,
            self.end / 60,
            self.end % 60,
            self.tz_name
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowError {
    Days(String),
    Hours(String),
    Timezone(String),
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let bad = |part: &str| {
        format!("`{part}` is not a day or range of days; write e.g. `mon-fri`, `sat,sun`, `daily`")
    };
    let day = |name: &str| {
        DAY_NAMES
            .iter()
            .position(|d| name.eq_ignore_ascii_case(d))
            .ok_or_else(|| bad(name))
    };
    let mut days = [false; 7];
    for part in text.split(',').map(str::trim) {
        if part.eq_ignore_ascii_case("daily") {
            days = [true; 7];
        } else if part.eq_ignore_ascii_case("weekdays") {
            days[..5].fill(true);
        } else if part.eq_ignore_ascii_case("weekends") {
            days[5..].fill(true);
        } else if let Some((from, to)) = part.split_once('-') {
            let (from, to) = (day(from.trim())?, day(to.trim())?);
            let mut d = from;
            loop {
                days[d] = true;
                if d == to {
                    break;
                }
                d = (d + 1) % 7;
            }
        } else {
            days[day(part)?] = true;
        }
    }
    Ok(days)
}

fn parse_hours(text: &str) -> Result<(u16, u16), String> {
    let bad =
        || format!("`{text}` is not a range of hours; write e.g. `08:00-18:00` or `22:00-06:00`");
    let (start, end) = text.split_once('-').ok_or_else(bad)?;
    let minute = |t: &str| -> Option<u16> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = (minute(start).ok_or_else(bad)?, minute(end).ok_or_else(bad)?);
    if start == end || start == 1440 {
        return Err(format!("`{text}` is an empty range of hours"));
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn office_hours_follow_local_time_across_dst() {
        let w = Window::new("mon-fri", "08:00-18:00", "Europe/Lisbon").unwrap();
        // Winter: Lisbon is UTC+0.
        assert!(w.contains(at("2026-01-05T08:00:00Z")));
        assert!(!w.contains(at("2026-01-05T07:59:00Z")));
        // Summer: UTC+1, so 07:30Z is 08:30 local.
        assert!(w.contains(at("2026-07-06T07:30:00Z")));
        assert!(!w.contains(at("2026-07-06T17:30:00Z")));
        // Saturday.
        assert!(!w.contains(at("2026-01-10T10:00:00Z")));
        assert_eq!(
            w.next_open(at("2026-01-10T10:00:00Z")),
            Some(at("2026-01-12T08:00:00Z"))
        );
    }

    #[test]
    fn night_window_belongs_to_the_day_it_opened() {
        let w = Window::new("fri", "22:00-06:00", "UTC").unwrap();
        assert!(w.contains(at("2026-01-09T23:00:00Z"))); // Friday night
        assert!(w.contains(at("2026-01-10T05:00:00Z"))); // Saturday early: Friday's window
        assert!(!w.contains(at("2026-01-09T05:00:00Z"))); // Friday early: Thursday's window
    }

    #[test]
    fn bad_windows() {
        let errors = |d, h, tz| Window::new(d, h, tz).unwrap_err();
        assert!(matches!(
            errors("mon-fry", "08:00-18:00", "UTC")[..],
            [WindowError::Days(_)]
        ));
        assert!(matches!(
            errors("daily", "8-18", "UTC")[..],
            [WindowError::Hours(_)]
        ));
        assert!(matches!(
            errors("daily", "08:00-08:00", "UTC")[..],
            [WindowError::Hours(_)]
        ));
        assert!(matches!(
            errors("daily", "08:00-18:00", "Mars/Olympus")[..],
            [WindowError::Timezone(_)]
        ));
        assert!(matches!(
            errors("mon-fry", "8-18", "Mars/Olympus")[..],
            [
                WindowError::Days(_),
                WindowError::Hours(_),
                WindowError::Timezone(_)
            ]
        ));
        assert_eq!(
            parse_days("sat,sun").unwrap(),
            [false, false, false, false, false, true, true]
        );
        assert_eq!(
            parse_days("fri-mon").unwrap(),
            [true, false, false, false, true, true, true]
        );
    }
}
