//! Who owns a poll token: the loop looks the token up and hands the event to its owner.

use std::collections::HashMap;

use mio::Token;

/// Token of the signal pipe.
pub const SIGNALS: Token = Token(0);
/// Token of the waker (resolver answers, spawn results, a finished configuration load).
pub const WAKER: Token = Token(1);
/// First token handed to listeners, sessions and ident queries.
const FIRST_TOKEN: usize = 16;

/// The owner of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The listening socket of service `key`.
    Listener(u64),
    /// A socket of session `id`.
    Session(u64),
    /// An identd query ([`crate::admission::ident`]).
    Ident,
    /// A connection whose PROXY header is being read ([`crate::proxied`]).
    Proxy(u64),
    /// A server's stderr pipe (`log_stderr = yes`, [`super::stderr`]).
    Stderr,
}

/// The token table.
pub struct Routes {
    map: HashMap<Token, Route>,
    next: usize,
}

impl Default for Routes {
    fn default() -> Routes {
        Routes {
            map: HashMap::new(),
            next: FIRST_TOKEN,
        }
    }
}

impl Routes {
    /// A fresh token for `route`.
    pub fn add(&mut self, route: Route) -> Token {
        let t = Token(self.next);
        self.next += 1;
        self.map.insert(t, route);
        t
    }

    /// The owner of `t`.
    pub fn get(&self, t: Token) -> Option<Route> {
        self.map.get(&t).copied()
    }

    /// The number of tokens in use: one per polled socket.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Forgets `t`.
    pub fn remove(&mut self, t: Token) {
        self.map.remove(&t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_never_the_fixed_ones() {
        let mut r = Routes::default();
        let a = r.add(Route::Listener(1));
        let b = r.add(Route::Session(1));
        assert_ne!(a, b);
        assert!(![SIGNALS, WAKER].contains(&a) && ![SIGNALS, WAKER].contains(&b));
        assert_eq!(r.get(b), Some(Route::Session(1)));
        r.remove(b);
        assert_eq!(r.get(b), None);
        assert_eq!(r.get(a), Some(Route::Listener(1)));
    }
}
