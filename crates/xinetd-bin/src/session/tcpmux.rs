//! The tcpmux builtin (F-540..F-545): one read of the service name; then the matching
//! TCPMUX/TCPMUXPLUS client service is started on the connection ([`Next::Handoff`]), or
//! `-Service name not found` is written. Only the tcpmux service logs (START at accept, EXIT
//! when the client service's server exits).

use std::io::{self, Read, Write};

use mio::{Interest, Registry};

use super::{Next, Socket};
use crate::service::Service;

/// A tcpmux connection waiting for its request.
pub struct Tcpmux {
    /// The client's connection.
    pub sock: Socket,
}

impl Tcpmux {
    /// A connection whose request is not read yet.
    pub fn new(sock: Socket) -> Tcpmux {
        Tcpmux { sock }
    }

    /// One turn: the single read of the request (F-541: whatever it returns is the request).
    pub fn ready(&mut self, clients: &[Service]) -> Next {
        let mut buf = [0u8; 1024];
        let n = match self.sock.stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Wait,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Next::Again,
            Err(_) => 0,
        };
        let Some(name) = crate::requests::tcpmux_name(&buf[..n]) else {
            return Next::Done;
        };
        match clients.iter().find(|s| s.name.eq_ignore_ascii_case(name)) {
            Some(client) => Next::Handoff(client.clone()),
            None => {
                let _ = self
                    .sock
                    .stream
                    .write_all(crate::requests::TCPMUX_NOT_FOUND);
                Next::Done
            }
        }
    }

    /// Only the request is read.
    pub fn follow(&mut self, registry: &Registry) -> io::Result<()> {
        self.sock.follow(registry, Some(Interest::READABLE))
    }
}
