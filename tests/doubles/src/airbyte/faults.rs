//! Faults the double can be told to inject: what a live Airbyte does to its clients on a bad
//! day. Each [`Fault`] matches requests by path and strikes a number of them.

use std::time::Duration;

/// What happens to a struck request.
#[derive(Clone, Debug, PartialEq)]
pub enum Failure {
    /// Answer with this status and the server's exception body, without doing anything.
    Status(u16),
    /// Answer this late (after doing the work).
    Slow(Duration),
    /// Close the connection before doing anything.
    DropBefore,
    /// Do the work, then close the connection without answering.
    DropAfter,
    /// A sync starts on the request's connection just before the request is served, and
    /// runs for this long.
    SyncStarts(Duration),
}

/// A fault: which requests it strikes and how.
#[derive(Clone, Debug)]
pub struct Fault {
    /// The spec path it matches (`/v1/state/create_or_update_safe`), or `None` for any.
    pub path: Option<String>,
    /// How many matching requests pass before it strikes.
    pub skip: usize,
    /// How many it strikes.
    pub times: usize,
    pub failure: Failure,
    seen: usize,
}

impl Fault {
    /// Strikes the first request to `path` once.
    pub fn once(path: &str, failure: Failure) -> Self {
        Self {
            path: Some(path.to_owned()),
            skip: 0,
            times: 1,
            failure,
            seen: 0,
        }
    }

    /// Strikes every request to `path`.
    pub fn always(path: &str, failure: Failure) -> Self {
        Self {
            path: Some(path.to_owned()),
            skip: 0,
            times: usize::MAX,
            failure,
            seen: 0,
        }
    }

    /// Strikes the `n`th request (1-based) to `path`, once.
    pub fn nth(path: &str, n: usize, failure: Failure) -> Self {
        Self {
            path: Some(path.to_owned()),
            skip: n.saturating_sub(1),
            times: 1,
            failure,
            seen: 0,
        }
    }

    /// The same fault, striking only after `n` matching requests passed.
    pub fn skipping(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    /// Whether it strikes this request (counting it).
    pub fn strikes(&mut self, path: &str) -> bool {
        if self.path.as_deref().is_some_and(|p| p != path) {
            return false;
        }
        self.seen += 1;
        self.seen > self.skip && self.seen - self.skip <= self.times
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strikes_the_requests_it_counts() {
        let mut f = Fault::nth("/v1/a", 2, Failure::Status(500));
        let hits: Vec<bool> = ["/v1/a", "/v1/b", "/v1/a", "/v1/a"]
            .iter()
            .map(|p| f.strikes(p))
            .collect();
        assert_eq!(hits, vec![false, false, true, false]);
    }
}
