//! When an issued certificate is renewed or reissued: the `renewBefore` window held
//! against the dates `refresh` recorded. Pure functions of the dates and the clock, so
//! that `plan` and `status` decide alike and tests can move time.

/// `renewBefore` when a manifest does not set it.
pub const DEFAULT_RENEW_BEFORE_DAYS: u32 = 30;
/// NicSRS accepts `/ssl/renew` only when the certificate expires within this many days.
pub const RENEWAL_OPENS_DAYS: i64 = 90;

const DAY: i64 = 86_400;

/// Reads a `renewBefore` value: days (`30d`) or weeks (`6w`).
pub fn parse_window(text: &str) -> Option<u32> {
    let (number, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: u32 = number.parse().ok()?;
    match unit {
        "d" => Some(n),
        "w" => n.checked_mul(7),
        _ => None,
    }
}

/// A NicSRS date (`2027-02-20 07:59:59`, UTC; the time may be missing) as Unix seconds.
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
        if let (Some(Some(h)), Some(Some(m)), Some(Some(s))) = (hms.next(), hms.next(), hms.next())
        {
            seconds += h * 3600 + m * 60 + s;
        }
    }
    Some(seconds)
}

/// Unix seconds as a NicSRS date (`2027-02-20 07:59:59`).
pub fn format_date(seconds: i64) -> String {
    crate::wire::format_utc(seconds, ' ', "")
}

/// Unix seconds as the day (`2027-02-20`), for messages.
pub fn format_day(seconds: i64) -> String {
    let mut date = format_date(seconds);
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
        /// When the window opens: the earlier of the two ends, less the window.
        window_opens: i64,
    },
    /// The dates are not known (`refresh` has not recorded them).
    Unknown,
}

/// Decides for a certificate that expires at `not_after` in a subscription that ends at
/// `due_date` (taken as the certificate's own expiry when NicSRS gave none), with a window
/// of `window_days`, at `now`.
pub fn decide(not_after: &str, due_date: &str, window_days: u32, now: i64) -> Due {
    let Some(not_after) = parse_date(not_after) else {
        return Due::Unknown;
    };
    let due = parse_date(due_date).unwrap_or(not_after).max(not_after);
    let window = i64::from(window_days) * DAY;
    if due - now <= window {
        let opens = not_after - RENEWAL_OPENS_DAYS * DAY;
        if now >= opens {
            Due::Renew { due }
        } else {
            Due::RenewLater { due, opens }
        }
    } else if not_after - now <= window {
        Due::Reissue { not_after, due }
    } else {
        Due::Valid {
            not_after,
            window_opens: not_after - window,
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

    #[test]
    fn windows_are_days_or_weeks() {
        assert_eq!(parse_window("30d"), Some(30));
        assert_eq!(parse_window("6w"), Some(42));
        assert_eq!(parse_window("0d"), Some(0));
        assert_eq!(parse_window("30"), None);
        assert_eq!(parse_window("d"), None);
        assert_eq!(parse_window(""), None);
        assert_eq!(parse_window("1m"), None);
    }

    #[test]
    fn dates_read_back_to_the_second() {
        assert_eq!(parse_date(&format_date(NOW)), Some(NOW));
        assert_eq!(parse_date("2027-02-20"), parse_date("2027-02-20 00:00:00"));
        assert_eq!(parse_date("2027-02-30 00:00:00"), None);
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
