//! The client's host name as libwrap establishes it (double-reverse lookup), and the lookup a
//! decision asks for when a name pattern could change the verdict.

use std::net::IpAddr;

use super::canonical;
use crate::policy::Resolved;
use crate::resolver::{ResolveError, Resolver};

/// The name libwrap uses for a client whose host name is not known.
pub(super) const UNKNOWN: &str = "unknown";
/// The name libwrap uses for a client whose host name does not map back to its address.
pub(super) const PARANOID: &str = "paranoid";

/// What is known of the client's host name, as libwrap establishes it: the reverse lookup of
/// the address, kept only if a forward lookup of that name gives the address back.
///
/// It can only be built by the constructors below, so an unverified reverse name (such as the
/// one [`AccessPolicy`](crate::AccessPolicy) uses for `only_from`, where xinetd does not verify
/// it) cannot be mistaken for a verified one: whoever controls the reverse zone of an address
/// could otherwise claim any `.domain`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientName(NameState);

/// The matchers read it (hence `pub(super)`), but it is held in `ClientName`'s private field:
/// only `ClientName`'s constructors decide what counts as a verified name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) enum NameState {
    #[default]
    NotLookedUp,
    /// Lower-case host name, or `unknown` / `paranoid` exactly as libwrap spells them.
    Looked(String),
}

impl ClientName {
    /// Nothing looked up yet: name patterns make
    /// [`HostsAccess::decide`](super::HostsAccess::decide) ask for a lookup.
    pub fn not_looked_up() -> ClientName {
        ClientName(NameState::NotLookedUp)
    }

    /// The lookup gave no name (or failed): the host name is `unknown`.
    pub fn unknown() -> ClientName {
        ClientName(NameState::Looked(UNKNOWN.to_owned()))
    }

    /// Combine lookups done elsewhere (e.g. asynchronously): `reverse` is the reverse lookup of
    /// `client`, `forward` the addresses of that name. The name is kept if `client` is among
    /// them (IPv4-mapped addresses compare as IPv4), else it is `paranoid`, as is a name that
    /// is a numeric address; no name → `unknown`.
    pub fn from_lookups(client: IpAddr, reverse: Option<&str>, forward: &[IpAddr]) -> ClientName {
        let Some(name) = reverse
            .map(|n| n.trim_end_matches('.'))
            .filter(|n| !n.is_empty())
        else {
            return ClientName::unknown();
        };
        // A reverse name that is itself a numeric address (a PTR record saying `10.0.0.1`)
        // could impersonate address patterns: libwrap clobbers it to `paranoid`.
        if name.parse::<IpAddr>().is_ok() {
            return ClientName(NameState::Looked(PARANOID.to_owned()));
        }
        let client = canonical(client);
        if forward.iter().any(|a| canonical(*a) == client) {
            ClientName(NameState::Looked(name.to_ascii_lowercase()))
        } else {
            ClientName(NameState::Looked(PARANOID.to_owned()))
        }
    }

    /// What the pattern matchers see.
    pub(super) fn state(&self) -> &NameState {
        &self.0
    }

    /// The host name as libwrap would print it (`%n`): a name, `unknown` or `paranoid`; `None`
    /// when not looked up.
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            NameState::NotLookedUp => None,
            NameState::Looked(n) => Some(n),
        }
    }
}

/// The lookup a [`WrapDecision::NeedsLookup`](super::WrapDecision::NeedsLookup) asks for: the
/// client's verified host name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NameLookup {
    /// The client.
    pub client: IpAddr,
}

impl NameLookup {
    /// Reverse lookup, then forward lookup of the name (this blocks up to the resolver's
    /// deadlines: call it off the event loop). A failed lookup gives `unknown`, like libwrap;
    /// the resolver's error is returned for logging.
    pub fn perform(&self, resolver: &dyn Resolver) -> (ClientName, Option<ResolveError>) {
        match resolver.reverse_lookup(self.client) {
            Ok(name) => self.confirm(name.as_deref(), resolver),
            Err(e) => (ClientName::unknown(), Some(e)),
        }
    }

    /// Like [`perform`](Self::perform), reusing a reverse lookup already made for
    /// `only_from`/`no_access` (a [`Resolved`] from [`LookupRequest`](crate::LookupRequest)):
    /// only the forward confirmation is done. A [`Resolved::none`] makes the reverse lookup too.
    pub fn perform_with(
        &self,
        resolved: &Resolved,
        resolver: &dyn Resolver,
    ) -> (ClientName, Option<ResolveError>) {
        if *resolved == Resolved::none() {
            return self.perform(resolver);
        }
        self.confirm(resolved.reverse_name(), resolver)
    }

    fn confirm(
        &self,
        name: Option<&str>,
        resolver: &dyn Resolver,
    ) -> (ClientName, Option<ResolveError>) {
        let Some(name) = name
            .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
            .filter(|n| !n.is_empty())
        else {
            return (ClientName::unknown(), None);
        };
        let name = name.as_str();
        match resolver.lookup_host(name) {
            Ok(addrs) => (
                ClientName::from_lookups(self.client, Some(name), &addrs),
                None,
            ),
            // libwrap: a name whose forward lookup fails is treated as paranoid (the name
            // cannot be trusted); xinetd logs nothing more.
            Err(e) => (
                ClientName::from_lookups(self.client, Some(name), &[]),
                Some(e),
            ),
        }
    }
}
