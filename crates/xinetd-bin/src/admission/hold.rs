//! What an admitted request holds while it is served: its limits permit (instances,
//! per_source, the process limit) and one unit of its service's running count. Both are
//! given back when the hold is dropped, so no path can forget the −1.

use std::cell::Cell;
use std::rc::Rc;

use xinetd_limits::Permit;

/// The running count of one service: how many [`Hold`]s of it are alive (servers, sessions,
/// spawns in flight, requests waiting for a lookup or a fork retry). Cloning shares the count.
#[derive(Clone, Default, Debug)]
pub struct Running(Rc<Cell<u32>>);

impl Running {
    /// The number of live holds.
    pub fn count(&self) -> u32 {
        self.0.get()
    }
}

/// A limits permit and one unit of a service's running count, released on drop.
#[derive(Debug)]
pub struct Hold {
    permit: Option<Permit>,
    running: Running,
}

impl Hold {
    /// Takes one unit of `running` (and keeps `permit`, if the request got one).
    pub fn new(permit: Option<Permit>, running: &Running) -> Hold {
        running.0.set(running.0.get().saturating_add(1));
        Hold {
            permit,
            running: running.clone(),
        }
    }

    /// True when the hold keeps a limits permit.
    pub fn has_permit(&self) -> bool {
        self.permit.is_some()
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.running.0.set(self.running.0.get().saturating_sub(1));
        // The permit drops after this, giving instances/per_source/-limit back.
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_follows_the_holds() {
        let running = Running::default();
        let a = Hold::new(None, &running);
        let b = Hold::new(None, &running);
        assert_eq!(running.count(), 2);
        drop(a);
        assert_eq!(running.count(), 1);
        let moved = vec![b];
        drop(moved);
        assert_eq!(running.count(), 0);
    }
}
