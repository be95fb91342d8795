//! Out-of-line storage for the extension attribute groups (issue 16).
//!
//! A [`Service`](crate::Service) carries several groups of extension attributes (the
//! load-balancer, socket, sandbox and TLS ones) that most services leave entirely unset.
//! Inline, they cost every service about 1.9 KB for as long as the daemon runs. An
//! [`Extension`] keeps a group behind a box that exists only when something in it is set, so
//! an unset group costs one pointer, while readers still write `svc.sandbox.landlock_read`
//! through [`Deref`].
//!
//! ```
//! use xinetd_conf::{Extension, SocketOptions, Spanned, Span};
//!
//! let mut socket: Extension<SocketOptions> = Extension::default();
//! assert!(!socket.is_set() && socket.backlog.is_none()); // reads as the empty group
//! socket.make_mut().backlog = Some(Spanned::new(64, Span::synthetic()));
//! assert!(socket.is_set());
//! socket.make_mut().backlog = None; // empty again: the box is freed
//! assert!(!socket.is_set());
//! assert_eq!(socket, Extension::new(SocketOptions::default()));
//! ```

use std::fmt;
use std::ops::{Deref, DerefMut};

/// A group of attributes that are all optional, with a value for "nothing set".
pub trait AttributeGroup: Clone + PartialEq + 'static {
    /// The group with no attribute set: what an absent [`Extension`] reads as. Equal to
    /// `Default::default()` for the groups of this crate.
    const EMPTY: &'static Self;
}

/// An [`AttributeGroup`] stored out of line, allocated only while something in it is set.
///
/// Invariant: the box exists only when the group differs from [`AttributeGroup::EMPTY`].
/// [`Extension::new`] drops an empty group instead of boxing it and [`ExtensionMut`] frees
/// the box when an edit leaves the group empty, so "set but empty" cannot be stored, and
/// equality, `Debug` and every reader behave as if the group were inline.
pub struct Extension<T: AttributeGroup>(Option<Box<T>>);

impl<T: AttributeGroup> Extension<T> {
    /// `value`, boxed unless it is empty.
    pub fn new(value: T) -> Self {
        if value == *T::EMPTY {
            Extension(None)
        } else {
            Extension(Some(Box::new(value)))
        }
    }

    /// `true` when some attribute of the group is set (the group is allocated).
    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The group for editing; the box is allocated on the first write through the guard and
    /// freed when the guard is dropped with the group empty.
    pub fn make_mut(&mut self) -> ExtensionMut<'_, T> {
        let value = self.0.take();
        ExtensionMut { slot: self, value }
    }

    /// The group by value.
    pub fn into_inner(self) -> T {
        match self.0 {
            Some(b) => *b,
            None => T::EMPTY.clone(),
        }
    }
}

impl<T: AttributeGroup> Deref for Extension<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_deref().unwrap_or(T::EMPTY)
    }
}

impl<T: AttributeGroup> Default for Extension<T> {
    /// Nothing set, nothing allocated.
    fn default() -> Self {
        Extension(None)
    }
}

impl<T: AttributeGroup> From<T> for Extension<T> {
    fn from(value: T) -> Self {
        Extension::new(value)
    }
}

impl<T: AttributeGroup> Clone for Extension<T> {
    fn clone(&self) -> Self {
        Extension(self.0.clone())
    }
}

impl<T: AttributeGroup> PartialEq for Extension<T> {
    /// Compares the groups, as if they were inline.
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: AttributeGroup + Eq> Eq for Extension<T> {}

impl<T: AttributeGroup + fmt::Debug> fmt::Debug for Extension<T> {
    /// The group, as if it were inline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// An edit of an [`Extension`] in progress ([`Extension::make_mut`]), like
/// `BinaryHeap::peek_mut`'s guard: dropping it stores the group back, boxed only when it is
/// not empty. While it lives the extension itself holds nothing, so a guard that is leaked
/// (`mem::forget`) loses the edit but never leaves an empty box behind.
pub struct ExtensionMut<'a, T: AttributeGroup> {
    slot: &'a mut Extension<T>,
    value: Option<Box<T>>,
}

impl<T: AttributeGroup> Deref for ExtensionMut<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.value.as_deref().unwrap_or(T::EMPTY)
    }
}

impl<T: AttributeGroup> DerefMut for ExtensionMut<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.value.get_or_insert_with(|| Box::new(T::EMPTY.clone()))
    }
}

impl<T: AttributeGroup> Drop for ExtensionMut<'_, T> {
    fn drop(&mut self) {
        self.slot.0 = self.value.take().filter(|v| **v != *T::EMPTY);
    }
}

impl<T: AttributeGroup + fmt::Debug> fmt::Debug for ExtensionMut<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Span, Spanned};
    use crate::proxy::ProxyAttrs;
    use crate::sandbox::Sandbox;
    use crate::sockopts::SocketOptions;
    use crate::tls::TlsAttrs;

    fn sp<T>(v: T) -> Spanned<T> {
        Spanned::new(v, Span::synthetic())
    }

    /// Each group's `EMPTY` is its `Default`: a field added to a group with a non-`None`
    /// default would make absent and default groups read differently.
    #[test]
    fn empty_is_default() {
        assert_eq!(*ProxyAttrs::EMPTY, ProxyAttrs::default());
        assert_eq!(*SocketOptions::EMPTY, SocketOptions::default());
        assert_eq!(*Sandbox::EMPTY, Sandbox::default());
        assert_eq!(*TlsAttrs::EMPTY, TlsAttrs::default());
    }

    /// A regression guard, not a benchmark: an absent group is one pointer, and a service
    /// (2184 bytes on x86-64 with the four groups out of line, 4056 with them inline) does
    /// not silently take a large group back inline.
    #[test]
    fn groups_stay_out_of_line() {
        use std::mem::size_of;
        assert_eq!(size_of::<Extension<Sandbox>>(), size_of::<usize>());
        assert!(
            size_of::<crate::Service>() < 2600,
            "Service is {} bytes",
            size_of::<crate::Service>()
        );
    }

    #[test]
    fn an_empty_group_is_not_boxed() {
        assert!(!Extension::new(Sandbox::default()).is_set());
        assert!(!Extension::<Sandbox>::default().is_set());
        let t = TlsAttrs {
            alpn: Some(sp(vec!["h2".to_owned()])),
            ..TlsAttrs::default()
        };
        assert!(Extension::new(t).is_set());
    }

    #[test]
    fn edits_allocate_on_write_and_free_when_emptied() {
        let mut e: Extension<TlsAttrs> = Extension::default();
        // Reading through the guard does not allocate.
        assert!(e.make_mut().cert.is_none());
        assert!(!e.is_set());
        e.make_mut().handshake_timeout = Some(sp(5));
        assert!(e.is_set());
        assert_eq!(e.handshake_timeout(), 5);
        {
            let mut g = e.make_mut();
            g.handshake_timeout = None;
            g.client_ca = Some(sp("ca.pem".to_owned()));
        }
        assert!(e.is_set() && e.handshake_timeout.is_none());
        e.make_mut().client_ca = None;
        assert!(!e.is_set());
        assert_eq!(e, Extension::default());
    }

    #[test]
    fn a_leaked_guard_leaves_the_group_unset() {
        let mut e: Extension<SocketOptions> = Extension::new(SocketOptions {
            backlog: Some(sp(16)),
            ..SocketOptions::default()
        });
        let mut g = e.make_mut();
        g.mark = Some(sp(1));
        std::mem::forget(g);
        assert!(!e.is_set());
        assert_eq!(*e, SocketOptions::default());
    }

    #[test]
    fn equality_debug_and_into_inner_see_the_group() {
        let p = ProxyAttrs {
            proxy_timeout: Some(sp(7)),
            ..ProxyAttrs::default()
        };
        let e = Extension::new(p.clone());
        assert_eq!(e, Extension::from(p.clone()));
        assert_ne!(e, Extension::default());
        assert_eq!(format!("{e:?}"), format!("{p:?}"));
        assert_eq!(
            format!("{:?}", Extension::<ProxyAttrs>::default()),
            format!("{:?}", ProxyAttrs::default())
        );
        assert_eq!(e.clone().into_inner(), p);
        assert_eq!(
            Extension::<ProxyAttrs>::default().into_inner(),
            ProxyAttrs::default()
        );
    }
}
