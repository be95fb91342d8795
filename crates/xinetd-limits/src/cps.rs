//! xinetd's connections-per-second counter (F-310), as a pure function of whole seconds.

/// Per-service cps state: a counter `n` and the start `t0` of the current window.
///
/// xinetd keeps this in the service configuration, so a reload resets it (F-864) while a
/// deactivation/reactivation does not (F-311).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CpsCounter {
    n: u64,
    t0: u64,
}

impl CpsCounter {
    /// Count one request arriving at `now_secs`; `true` when it trips the limiter.
    ///
    /// The window is compared with the *rate* (not with one second) and the quotient is an
    /// integer division, exactly as xinetd's `parent_access_control` does: with `cps = 2 3`
    /// the third request within one second trips; with `50 10` the 51st does.
    pub(crate) fn record(&mut self, rate: u32, now_secs: u64) -> bool {
        if rate == 0 {
            return false;
        }
        let rate = u64::from(rate);
        if self.n == 0 {
            self.n = 1;
            self.t0 = now_secs;
            return false;
        }
        // The clock is monotonic, so `now_secs >= t0`; saturate anyway.
        let diff = now_secs.saturating_sub(self.t0);
        if diff < rate {
            self.n += 1;
            let d = diff.max(1);
            self.n / d > rate
        } else {
            self.t0 = now_secs;
            self.n = 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CpsCounter;

    fn trips(rate: u32, times: &[u64]) -> Vec<bool> {
        let mut c = CpsCounter::default();
        times.iter().map(|&t| c.record(rate, t)).collect()
    }

    #[test]
    fn cps_2_trips_on_third_request_in_one_second() {
        assert_eq!(trips(2, &[100, 100, 100]), [false, false, true]);
    }

    #[test]
    fn cps_50_trips_on_51st_request_in_first_second() {
        let times = vec![7; 51];
        let r = trips(50, &times);
        assert!(r[..50].iter().all(|t| !t));
        assert!(r[50]);
    }

    #[test]
    fn window_is_compared_with_rate_not_one_second() {
        // cps = 2: t=0 (n=1), t=1 (n=2, 2/1 > 2? no), t=1 (n=3, 3/1 > 2 trips):
        // the window started at t=0 is still open at t=1 because 1 < rate.
        assert_eq!(trips(2, &[0, 1, 1]), [false, false, true]);
        // With rate 1 the same sequence resets the window at t=1 (1 < 1 is false).
        assert_eq!(trips(1, &[0, 1, 1]), [false, false, true]);
        assert_eq!(trips(1, &[0, 1, 2]), [false, false, false]);
    }

    #[test]
    fn integer_division_over_the_elapsed_seconds() {
        // rate 3, window start 0: at t=2, n=7 gives 7/2 = 3 (not > 3; 3.5 would trip),
        // n=8 gives 4 > 3.
        assert_eq!(
            trips(3, &[0, 0, 0, 2, 2, 2, 2, 2]),
            [false, false, false, false, false, false, false, true]
        );
    }

    #[test]
    fn window_resets_once_rate_seconds_have_passed() {
        assert_eq!(
            trips(2, &[0, 0, 2, 2, 2]),
            [false, false, false, false, true]
        );
    }

    #[test]
    fn rate_zero_disables_the_limiter() {
        assert!(trips(0, &[1; 1000]).iter().all(|t| !t));
    }
}
