//! Failed sign-ins, counted by user name and by source address. After a few failures in a row,
//! further attempts are refused, without the password being checked, for a wait that doubles
//! with each failure up to [`MAX_WAIT`]: guessing a password costs hours, not seconds. A user's
//! count is cleared by a successful sign-in; an address's only fades with time, so that a
//! successful sign-in of one's own does not reset guesses at others' passwords. Names that do
//! not exist are counted like names that do, so that the answers tell nothing about which exist.
//!
//! Loopback addresses are not counted by address: behind a reverse proxy on the same machine
//! every request comes from one, and counting them would make all users wait for one guesser;
//! counts by name still apply. The counts live in memory: a restart forgets them, and replicas
//! count apart.

use atelier_core::Error;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures of one user name allowed before attempts wait.
const USER_FREE_FAILURES: u32 = 5;
/// Failures from one address allowed before attempts wait (several users may share one).
const ADDRESS_FREE_FAILURES: u32 = 20;
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);
/// A count is forgotten this long after its last failure.
const FORGET_AFTER: Duration = Duration::from_secs(60 * 60);
/// The most keys kept; beyond it the forgotten ones are dropped first, then all.
const MAX_KEYS: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    User(String),
    Address(IpAddr),
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    last: Instant,
}

#[derive(Default)]
pub(crate) struct SignInThrottle {
    failures: Mutex<HashMap<Key, Failures>>,
}

/// How long `failures` make the next attempt wait, after `free` failures allowed.
fn wait_after(failures: u32, free: u32) -> Duration {
    match failures.checked_sub(free) {
        None => Duration::ZERO,
        Some(over) => Duration::from_secs(1u64 << over.min(20)).min(MAX_WAIT),
    }
}

fn keys(user: &str, address: Option<IpAddr>) -> Vec<(Key, u32)> {
    let mut keys = vec![(Key::User(user.trim().to_lowercase()), USER_FREE_FAILURES)];
    if let Some(address) = address.filter(|address| !address.is_loopback()) {
        keys.push((Key::Address(address), ADDRESS_FREE_FAILURES));
    }
    keys
}

impl SignInThrottle {
    /// Refuses an attempt while the user name or the address must wait.
    pub(crate) fn check(&self, user: &str, address: Option<IpAddr>) -> Result<(), Error> {
        let Ok(failures) = self.failures.lock() else { return Ok(()) };
        for (key, free) in keys(user, address) {
            let Some(seen) = failures.get(&key) else { continue };
            let wait = wait_after(seen.count, free);
            let waited = seen.last.elapsed();
            if waited < wait {
                let seconds = (wait - waited).as_secs().max(1);
                let whose = match &key {
                    Key::User(_) => format!("for user '{}'", user.trim()),
                    Key::Address(address) => format!("from {address}"),
                };
                return Err(Error::new(
                    atelier_core::ErrorCode::RequestLimitExceeded,
                    format!("too many failed sign-ins {whose}: try again in {seconds} s"),
                ));
            }
        }
        Ok(())
    }

    /// Counts a failed attempt.
    pub(crate) fn failed(&self, user: &str, address: Option<IpAddr>) {
        let Ok(mut failures) = self.failures.lock() else { return };
        if failures.len() >= MAX_KEYS {
            failures.retain(|_, seen| seen.last.elapsed() < FORGET_AFTER);
            if failures.len() >= MAX_KEYS {
                failures.clear();
            }
        }
        let now = Instant::now();
        for (key, _) in keys(user, address) {
            let seen = failures.entry(key).or_insert(Failures { count: 0, last: now });
            if seen.last.elapsed() >= FORGET_AFTER {
                seen.count = 0;
            }
            seen.count = seen.count.saturating_add(1);
            seen.last = now;
        }
    }

    /// Clears the user's count after a successful sign-in.
    pub(crate) fn succeeded(&self, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&Key::User(user.trim().to_lowercase()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_stop_at_the_most() {
        assert_eq!(wait_after(4, 5), Duration::ZERO);
        assert_eq!(wait_after(5, 5), Duration::from_secs(1));
        assert_eq!(wait_after(8, 5), Duration::from_secs(8));
        assert_eq!(wait_after(40, 5), MAX_WAIT);
    }

    #[test]
    fn a_user_waits_after_five_failures_and_a_success_clears_it() {
        let throttle = SignInThrottle::default();
        let address: Option<IpAddr> = Some("10.0.0.7".parse().unwrap());
        for _ in 0..USER_FREE_FAILURES {
            assert!(throttle.check("Alice", address).is_ok());
            throttle.failed("Alice", address);
        }
        let refused = throttle.check("alice", None).unwrap_err();
        assert_eq!(refused.code, atelier_core::ErrorCode::RequestLimitExceeded);
        assert!(refused.message.contains("for user 'alice'"), "{}", refused.message);
        assert!(throttle.check("bob", address).is_ok(), "another user from the same address may still try");
        throttle.succeeded("ALICE");
        assert!(throttle.check("alice", address).is_ok());
    }

    #[test]
    fn an_address_that_guesses_many_names_waits() {
        let throttle = SignInThrottle::default();
        let address: Option<IpAddr> = Some("10.0.0.8".parse().unwrap());
        for index in 0..ADDRESS_FREE_FAILURES {
            throttle.failed(&format!("user{index}"), address);
        }
        let refused = throttle.check("someone-else", address).unwrap_err();
        assert!(refused.message.contains("from 10.0.0.8"), "{}", refused.message);
        throttle.succeeded("user3");
        assert!(throttle.check("someone-else", address).is_err(), "one success does not reset an address");
        let loopback: Option<IpAddr> = Some("127.0.0.1".parse().unwrap());
        for index in 0..ADDRESS_FREE_FAILURES {
            throttle.failed(&format!("local{index}"), loopback);
        }
        assert!(throttle.check("someone-else", loopback).is_ok(), "a local proxy's address is not counted");
    }
}
