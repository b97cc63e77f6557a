//! When an issued certificate is renewed or reissued: the `renewBefore` window held
//! against the dates `refresh` recorded. Pure functions of the dates and the clock, so
//! that `plan` and `status` decide alike and tests can move time.

/// `renewBefore` when a manifest does not set it.
pub const DEFAULT_RENEW_BEFORE_DAYS: u32 = 30;
/// NicSRS accepts `/ssl/renew` only when the certificate expires within this many days.
pub const RENEWAL_OPENS_DAYS: i64 = 90;

const DAY: i64 = 86_400;

/// `renewBefore`: how long before the end a certificate is renewed or reissued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RenewBefore {
    /// A number of days (`30d`; `6w` is 42 days).
    Days(u32),
    /// A share of the certificate's lifetime (`33%`), as cert-manager's
    /// `renewBeforePercentage`: it shrinks with the certificates.
    Percent(u32),
}

impl Default for RenewBefore {
    fn default() -> Self {
        RenewBefore::Days(DEFAULT_RENEW_BEFORE_DAYS)
    }
}

impl std::fmt::Display for RenewBefore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RenewBefore::Days(d) => write!(f, "{d}d"),
            RenewBefore::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl RenewBefore {
    /// Reads a `renewBefore` value: days (`30d`), weeks (`6w`) or a share of the
    /// certificate's lifetime (`33%`, 1 to 99).
    pub fn parse(text: &str) -> Option<RenewBefore> {
        let (number, unit) = text.split_at(text.len().checked_sub(1)?);
        let n: u32 = number.parse().ok()?;
        match unit {
            "d" => Some(RenewBefore::Days(n)),
            "w" => n.checked_mul(7).map(RenewBefore::Days),
            "%" if (1..=99).contains(&n) => Some(RenewBefore::Percent(n)),
            _ => None,
        }
    }

    /// The number of days, for a window given in days.
    pub fn days(self) -> Option<u32> {
        match self {
            RenewBefore::Days(d) => Some(d),
            RenewBefore::Percent(_) => None,
        }
    }
}

/// The window held against one certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Seconds before the subscription's end at which it is renewed.
    pub subscription: i64,
    /// Seconds before the certificate's expiry at which it is reissued.
    pub certificate: i64,
    /// The certificate's lifetime in seconds, when both its dates are known.
    pub lifetime: Option<i64>,
    /// `renewBefore` is not shorter than the certificate's lifetime: a certificate would
    /// be due the moment it is issued, and reissued on every run. A third of its lifetime
    /// is used instead (as cert-manager does).
    pub clamped: bool,
}

impl Window {
    /// The window of `renew_before` for a certificate valid from `not_before` to
    /// `not_after` (Unix seconds; `not_before` may be unknown).
    pub fn of(renew_before: RenewBefore, not_before: Option<i64>, not_after: i64) -> Window {
        let lifetime = not_before.map(|b| not_after - b).filter(|l| *l > 0);
        let raw = match (renew_before, lifetime) {
            (RenewBefore::Days(d), _) => i64::from(d) * DAY,
            (RenewBefore::Percent(p), Some(l)) => l * i64::from(p) / 100,
            (RenewBefore::Percent(_), None) => i64::from(DEFAULT_RENEW_BEFORE_DAYS) * DAY,
        };
        let (certificate, clamped) = match lifetime {
            Some(l) if raw >= l => (l / 3, true),
            _ => (raw, false),
        };
        Window {
            subscription: raw,
            certificate,
            lifetime,
            clamped,
        }
    }

    /// The certificate's window in whole days, for messages.
    pub fn certificate_days(&self) -> i64 {
        self.certificate / DAY
    }

    /// The lifetime in whole days, for messages.
    pub fn lifetime_days(&self) -> Option<i64> {
        self.lifetime.map(|l| (l + DAY / 2) / DAY)
    }
}

/// The offset of NicSRS's dates from UTC. Which time zone they are in is not documented;
/// the examples (`…08:00:00` to `…07:59:59`) fit a CA's midnight UTC written in China's
/// time (UTC+8). Read as UTC+8, a date is never later than the truth under either reading:
/// a window opens at most 8 hours early, never late.
pub const NICSRS_UTC_OFFSET: i64 = 8 * 3600;

/// A NicSRS date (`2027-02-20 07:59:59`, UTC+8; the time may be missing) as Unix seconds.
pub fn parse_date(text: &str) -> Option<i64> {
    let date = text.get(..10)?;
    let mut parts = date.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()?;
    let mut seconds = date.midnight().assume_utc().unix_timestamp();
    if let Some(clock) = text.get(11..19) {
        let mut hms = clock.split(':').map(|p| p.parse::<i64>().ok());
        match (hms.next(), hms.next(), hms.next()) {
            (Some(Some(h)), Some(Some(m)), Some(Some(s)))
                if (0..24).contains(&h) && (0..60).contains(&m) && (0..61).contains(&s) =>
            {
                seconds += h * 3600 + m * 60 + s;
            }
            _ => return None,
        }
    }
    Some(seconds - NICSRS_UTC_OFFSET)
}

/// Unix seconds as a NicSRS date (`2027-02-20 07:59:59`, UTC+8).
pub fn format_date(seconds: i64) -> String {
    crate::nicsrs::wire::format_utc(seconds + NICSRS_UTC_OFFSET, ' ', "")
}

/// Unix seconds as the day in UTC (`2027-02-20`), for messages.
pub fn format_day(seconds: i64) -> String {
    let mut date = crate::nicsrs::wire::format_utc(seconds, ' ', "");
    date.truncate(10);
    date
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Whole days from `now` until `then` (negative once it has passed).
pub fn days_until(then: i64, now: i64) -> i64 {
    (then - now).div_euclid(DAY)
}

/// What the window says about an issued certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Due {
    /// The subscription ends within the window: renew it.
    Renew {
        /// End of the subscription.
        due: i64,
    },
    /// The subscription ends within the window, but NicSRS takes the renewal only from
    /// `opens` (90 days before the certificate expires).
    RenewLater {
        /// End of the subscription.
        due: i64,
        /// The first day a renewal is accepted.
        opens: i64,
    },
    /// The certificate expires within the window while the subscription goes on: reissue.
    Reissue {
        /// Expiry of the certificate.
        not_after: i64,
        /// End of the subscription.
        due: i64,
    },
    /// Nothing to do before the window opens.
    Valid {
        /// Expiry of the certificate.
        not_after: i64,
        /// When the window opens: the earlier of the certificate's expiry less its window
        /// and the subscription's end less its own.
        window_opens: i64,
    },
    /// The dates are not known (`refresh` has not recorded them).
    Unknown,
}

/// The dates of a certificate as `refresh` recorded them (NicSRS's text).
#[derive(Clone, Copy, Debug)]
pub struct Dates<'a> {
    /// `beginDate`.
    pub not_before: &'a str,
    /// `endDate`.
    pub not_after: &'a str,
    /// `dueDate`.
    pub due_date: &'a str,
}

/// Decides for a certificate valid from `not_before` to `not_after` in a subscription that
/// ends at `due_date` (taken as the certificate's own expiry when NicSRS gave none), with
/// `renew_before`, at `now`. Also returns the window used, when the dates are known.
pub fn decide(dates: Dates, renew_before: RenewBefore, now: i64) -> (Due, Option<Window>) {
    let Some(not_after) = parse_date(dates.not_after) else {
        return (Due::Unknown, None);
    };
    let window = Window::of(renew_before, parse_date(dates.not_before), not_after);
    (
        decide_in(not_after, dates.due_date, window, now),
        Some(window),
    )
}

fn decide_in(not_after: i64, due_date: &str, window: Window, now: i64) -> Due {
    let due = parse_date(due_date).unwrap_or(not_after).max(not_after);
    if due - now <= window.subscription {
        let opens = not_after - RENEWAL_OPENS_DAYS * DAY;
        if now >= opens {
            Due::Renew { due }
        } else {
            Due::RenewLater { due, opens }
        }
    } else if not_after - now <= window.certificate {
        Due::Reissue { not_after, due }
    } else {
        Due::Valid {
            not_after,
            window_opens: (not_after - window.certificate).min(due - window.subscription),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000; // 2027-01-15 08:00:00 UTC

    fn at(days: i64) -> String {
        format_date(NOW + days * DAY)
    }

    fn decide(not_after: &str, due_date: &str, days: u32, now: i64) -> Due {
        let dates = Dates {
            not_before: "",
            not_after,
            due_date,
        };
        super::decide(dates, RenewBefore::Days(days), now).0
    }

    #[test]
    fn windows_are_days_weeks_or_a_share_of_the_lifetime() {
        let parse = RenewBefore::parse;
        assert_eq!(parse("30d"), Some(RenewBefore::Days(30)));
        assert_eq!(parse("6w"), Some(RenewBefore::Days(42)));
        assert_eq!(parse("0d"), Some(RenewBefore::Days(0)));
        assert_eq!(parse("33%"), Some(RenewBefore::Percent(33)));
        assert_eq!(parse("0%"), None);
        assert_eq!(parse("100%"), None);
        assert_eq!(parse("30"), None);
        assert_eq!(parse("d"), None);
        assert_eq!(parse(""), None);
        assert_eq!(parse("1m"), None);
    }

    #[test]
    fn a_share_follows_the_lifetime_and_a_window_as_long_as_the_certificate_is_clamped() {
        // A 100-day certificate with 33%: reissued 33 days before it expires.
        let w = Window::of(RenewBefore::Percent(33), Some(NOW), NOW + 100 * DAY);
        assert_eq!((w.certificate_days(), w.clamped), (33, false));
        // 20-day certificates with `45d`: every certificate would be due when issued;
        // a third of the lifetime is used instead, so a fresh one is not reissued again.
        let w = Window::of(RenewBefore::Days(45), Some(NOW), NOW + 20 * DAY);
        assert!(w.clamped);
        assert_eq!(w.certificate, 20 * DAY / 3);
        let fresh = Dates {
            not_before: &at(0),
            not_after: &at(20),
            due_date: &at(700),
        };
        assert!(matches!(
            super::decide(fresh, RenewBefore::Days(45), NOW).0,
            Due::Valid { .. }
        ));
        assert!(matches!(
            super::decide(fresh, RenewBefore::Days(45), NOW + 14 * DAY).0,
            Due::Reissue { .. }
        ));
        // The subscription keeps the window as written.
        assert_eq!(w.subscription, 45 * DAY);
    }

    #[test]
    fn dates_read_back_to_the_second() {
        assert_eq!(parse_date(&format_date(NOW)), Some(NOW));
        assert_eq!(parse_date("2027-02-20"), parse_date("2027-02-20 00:00:00"));
        assert_eq!(parse_date("2027-02-30 00:00:00"), None);
        assert_eq!(parse_date("2027-02-20 25:99:99"), None);
        // NicSRS writes China's time: 08:00 there is midnight UTC.
        assert_eq!(
            parse_date("2027-02-20 08:00:00"),
            parse_date("2027-02-20").map(|t| t + NICSRS_UTC_OFFSET)
        );
        assert_eq!(format_day(NOW), "2027-01-15");
        assert_eq!(parse_date("soon"), None);
    }

    #[test]
    fn the_subscription_ending_renews_and_the_certificate_ending_reissues() {
        // A 1-year order whose certificate ends with it: renewed 30 days before.
        assert_eq!(
            decide(&at(20), &at(20), 30, NOW),
            Due::Renew {
                due: NOW + 20 * DAY
            }
        );
        // A 3-year subscription with a 200-day certificate: reissued, not renewed.
        assert_eq!(
            decide(&at(20), &at(700), 30, NOW),
            Due::Reissue {
                not_after: NOW + 20 * DAY,
                due: NOW + 700 * DAY
            }
        );
        assert_eq!(
            decide(&at(45), &at(700), 30, NOW),
            Due::Valid {
                not_after: NOW + 45 * DAY,
                window_opens: NOW + 15 * DAY
            }
        );
        // The window includes its last day.
        assert!(matches!(
            decide(&at(30), &at(30), 30, NOW),
            Due::Renew { .. }
        ));
        // Expired already: still renewed (the API says whether it takes it).
        assert!(matches!(
            decide(&at(-3), &at(-3), 30, NOW),
            Due::Renew { .. }
        ));
        // No subscription end from the API: the certificate's end is taken.
        assert!(matches!(decide(&at(10), "", 30, NOW), Due::Renew { .. }));
        assert_eq!(decide("", &at(10), 30, NOW), Due::Unknown);
    }

    #[test]
    fn a_window_beyond_90_days_waits_for_nicsrs_to_accept_the_renewal() {
        assert_eq!(
            decide(&at(120), &at(120), 150, NOW),
            Due::RenewLater {
                due: NOW + 120 * DAY,
                opens: NOW + 30 * DAY
            }
        );
        assert!(matches!(
            decide(&at(90), &at(120), 150, NOW),
            Due::Renew { .. }
        ));
    }
}
