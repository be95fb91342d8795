//! Address lists (`only_from`, `no_access`): xinetd's parse_inet_addresses / addrlist_op.

use crate::diagnostic::{diag, Severity, XinetdLevel};
use crate::model::*;
use crate::syntax::{AttrLine, Op};
use crate::values::{self, AddressOutcome};

use super::attribute::{fail, Failure};
use super::draft::Draft;
use super::Loader;

impl Loader<'_> {
    pub(super) fn address_words(
        &mut self,
        list: &mut AddressList,
        line: &AttrLine,
        op: Op,
        d: &Draft,
    ) -> Result<(), Failure> {
        for (word, span) in &line.values {
            if word.contains(',') && !word.contains('{') {
                return Err(fail(
                    "parse_inet_addresses",
                    format!("Address: {word} has a comma in it - remove the comma"),
                ));
            }
            match values::classify_address(word, self.env) {
                AddressOutcome::Parsed(form) => {
                    let entry = AddressEntry {
                        text: word.clone(),
                        form,
                        span: span.clone(),
                    };
                    if op == Op::Remove {
                        list.retain(|e| !same_address(e, &entry));
                    } else {
                        list.push(entry);
                    }
                }
                AddressOutcome::Unparsed => {
                    if word.is_empty() {
                        continue;
                    }
                    self.sink.push(
                        diag(span, Severity::Error, format!("'{word}' is not an address, network or resolvable host name; it is left out of {}", line.name))
                            .hint("xinetd drops the word and keeps the rest of the list; if it was the only word, the list is empty (for only_from: nobody is allowed)")
                            .service((!d.is_defaults).then_some(d.id()))
                            .xparse(XinetdLevel::Error, "addrlist_op", format!("failed to parse {word}")),
                    );
                    if op != Op::Remove {
                        list.push(AddressEntry {
                            text: word.clone(),
                            form: AddressForm::Unparsed,
                            span: span.clone(),
                        });
                    }
                }
                AddressOutcome::Error(msg) => {
                    // factorized_addr's message, then parse_inet_addresses' "Failed adding".
                    self.sink.push(
                        diag(
                            span,
                            Severity::Error,
                            format!("bad factorized address '{word}'"),
                        )
                        .hint("braces must be the last component: a.b.{x,y}")
                        .service((!d.is_defaults).then_some(d.id()))
                        .xparse(XinetdLevel::Error, "factorized_addr", msg),
                    );
                    return Err(
                        fail("parse_inet_addresses", format!("Failed adding: {word}"))
                            .message(format!("'{word}' cannot be added to {}", line.name)),
                    );
                }
            }
        }
        Ok(())
    }
}

pub(super) fn same_address(a: &AddressEntry, b: &AddressEntry) -> bool {
    match (&a.form, &b.form) {
        (AddressForm::Host(x), AddressForm::Host(y))
        | (AddressForm::Domain(x), AddressForm::Domain(y)) => x.eq_ignore_ascii_case(y),
        (x, y) => x == y,
    }
}
