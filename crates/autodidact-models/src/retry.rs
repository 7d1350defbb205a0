//! How long to wait before trying again.

use std::time::{Duration, SystemTime};

use rand::Rng;

/// The wait before retry number `retry` (0 for the first retry): exponential
/// backoff with full jitter, i.e. uniform in `[0, min(max, initial × 2^retry)]`,
/// so that many clients hit by the same overload spread out instead of coming
/// back in lockstep. A server's `Retry-After` is a floor, itself capped at
/// four times `max_ms` so that a confused server cannot stall a run for hours.
pub(crate) fn backoff_delay(
    retry: u32,
    initial_ms: u64,
    max_ms: u64,
    retry_after: Option<Duration>,
    rng: &mut impl Rng,
) -> Duration {
    let ceiling = initial_ms
        .saturating_mul(1u64.checked_shl(retry).unwrap_or(u64::MAX))
        .min(max_ms);
    let jittered = Duration::from_millis(rng.random_range(0..=ceiling));
    match retry_after {
        None => jittered,
        Some(floor) => {
            let cap = Duration::from_millis(max_ms.saturating_mul(4));
            jittered.max(floor.min(cap))
        }
    }
}

/// Reads a `Retry-After` value: delay-seconds or an HTTP date. A date in the
/// past means no wait; anything unreadable is ignored (`None`).
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn retry_after_values() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let cases: &[(&str, Option<u64>)] = &[
            ("1", Some(1)),
            (" 120 ", Some(120)),
            ("0", Some(0)),
            ("Sun, 06 Nov 1994 08:49:47 GMT", Some(10)),
            ("Sun, 06 Nov 1994 08:49:00 GMT", Some(0)),
            ("-5", None),
            ("1.5", None),
            ("soon", None),
            ("", None),
        ];
        for (value, want) in cases {
            assert_eq!(
                parse_retry_after(value, now),
                want.map(Duration::from_secs),
                "{value:?}"
            );
        }
    }

    #[test]
    fn backoff_stays_under_the_doubling_ceiling_and_spreads() {
        let mut rng = StdRng::seed_from_u64(1);
        // (retry, initial, max, ceiling in ms)
        let cases = [
            (0, 100, 10_000, 100),
            (1, 100, 10_000, 200),
            (3, 100, 10_000, 800),
            (10, 100, 10_000, 10_000),
            (200, 100, 10_000, 10_000),
            (0, 0, 0, 0),
        ];
        for (retry, initial, max, ceiling) in cases {
            let delays: Vec<u64> = (0..200)
                .map(|_| backoff_delay(retry, initial, max, None, &mut rng).as_millis() as u64)
                .collect();
            let top = *delays.iter().max().unwrap();
            let bottom = *delays.iter().min().unwrap();
            assert!(top <= ceiling, "retry {retry}: {top} > {ceiling}");
            // Full jitter: both halves of the range are used.
            if ceiling > 0 {
                assert!(
                    top > ceiling / 2 && bottom < ceiling / 2,
                    "retry {retry}: {bottom}..{top}"
                );
            }
        }
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_four_times_max() {
        let mut rng = StdRng::seed_from_u64(2);
        // (retry_after ms, max ms, lowest allowed, highest allowed)
        let cases = [(1_000, 50, 200, 200), (150, 50, 150, 150), (10, 50, 10, 50)];
        for (after, max, low, high) in cases {
            for _ in 0..100 {
                let d = backoff_delay(5, 10, max, Some(Duration::from_millis(after)), &mut rng);
                let ms = d.as_millis() as u64;
                assert!(
                    (low..=high).contains(&ms),
                    "after {after}: {ms} not in {low}..={high}"
                );
            }
        }
    }
}
