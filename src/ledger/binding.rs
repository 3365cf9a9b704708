//! An order's upstream id (SPEC §6): binding it to DriveWealth's `orderId`, one open order per
//! id; holding it in doubt when no answer came; an operator's resolution.

use super::orders::unknown_order;
use super::{AccountIndex, InDoubtNote, Ledger, LedgerError, LocalOrderId};

impl Ledger {
    /// Upstream accepted the order (2xx with its orderId): later updates find it by that id. Also
    /// ends an in-doubt state (a late answer).
    ///
    /// One upstream id belongs to at most one open order: an id already bound to another open
    /// order is refused (`Conflict`) and nothing changes. (A simulator restarted without its
    /// state, or a confused upstream, can hand out an id twice; two orders sharing one would
    /// apply each other's fills.) The id is claimed before the order takes it, so two binds
    /// racing for one id cannot both win.
    pub fn bind(&self, local: LocalOrderId, upstream_order_id: &str) -> Result<(), LedgerError> {
        let cell = self
            .order_customer(local.0)
            .ok_or_else(|| unknown_order(local))?;
        let _customer = self.change(&cell);
        match self.local_by_upstream.entry(upstream_order_id.into()) {
            dashmap::Entry::Occupied(entry) if *entry.get() != local.0 => {
                return Err(LedgerError::Conflict(format!(
                    "upstream order id {upstream_order_id} is already bound to open order \
                     local-{}",
                    entry.get()
                )));
            }
            dashmap::Entry::Occupied(_) => {}
            dashmap::Entry::Vacant(entry) => {
                entry.insert(local.0);
            }
        }
        let previous = {
            let Some(mut order) = self.change_order(local.0) else {
                self.local_by_upstream
                    .remove_if(upstream_order_id, |_, mapped| *mapped == local.0);
                return Err(unknown_order(local));
            };
            order.in_doubt = false;
            if let Some(note) = order.note.take() {
                self.forget_note(&note, local.0);
            }
            if order.upstream_order_id.as_deref() == Some(upstream_order_id) {
                return Ok(());
            }
            order.upstream_order_id.replace(upstream_order_id.into())
        };
        if let Some(previous) = previous {
            tracing::warn!(%local, %previous, new = upstream_order_id, "order re-bound to another upstream id");
            self.local_by_upstream
                .remove_if(&previous, |_, mapped| *mapped == local.0);
        }
        Ok(())
    }

    /// The order was sent and no answer came (timeout, reset): its reservation stays and it is
    /// listed as in doubt until `bind`, `resolve_in_doubt` or `release`.
    pub fn mark_in_doubt(&self, local: LocalOrderId) -> Result<(), LedgerError> {
        self.mark_in_doubt_noted(local, None)
    }

    /// [`Ledger::mark_in_doubt`], keeping what identifies the order at DriveWealth until its
    /// orderId is known: an event carrying its `clientOrderID` can then bind it
    /// ([`Ledger::in_doubt_by_client_order_id`]).
    pub fn mark_in_doubt_noted(
        &self,
        local: LocalOrderId,
        note: Option<InDoubtNote>,
    ) -> Result<(), LedgerError> {
        let cell = self
            .order_customer(local.0)
            .ok_or_else(|| unknown_order(local))?;
        let _customer = self.change(&cell);
        let mut order = self
            .change_order(local.0)
            .ok_or_else(|| unknown_order(local))?;
        if order.upstream_order_id.is_some() {
            return Err(LedgerError::Invalid(format!(
                "order {local} was already answered by upstream; it cannot be in doubt"
            )));
        }
        order.in_doubt = true;
        // Without a new note, an earlier one stays.
        if let Some(note) = note {
            if let Some(old) = order.note.take() {
                self.forget_note(&old, local.0);
            }
            if let Some(client_order_id) = &note.client_order_id {
                self.index_note(client_order_id, local.0);
            }
            order.note = Some(Box::new(note));
        }
        Ok(())
    }

    /// The one in-doubt order sent with `client_order_id` through omnibus account `account`.
    /// `None` when there is none, or more than one (two customers' orders may share a
    /// clientOrderID): binding the wrong one would give one customer another's fills, so an
    /// ambiguous answer is left for an operator.
    pub fn in_doubt_by_client_order_id(
        &self,
        client_order_id: &str,
        account: AccountIndex,
    ) -> Option<LocalOrderId> {
        let locals = self
            .in_doubt_by_client_order_id
            .get(client_order_id)?
            .clone();
        let mut matching = locals.into_iter().filter(|local| {
            self.orders
                .get(local)
                .is_some_and(|order| order.in_doubt && order.account == account)
        });
        let first = matching.next()?;
        if matching.next().is_some() {
            tracing::warn!(
                client_order_id,
                "several in-doubt orders share this clientOrderID; none bound"
            );
            return None;
        }
        Some(LocalOrderId(first))
    }

    /// Adds `local` under `client_order_id` in the in-doubt index.
    pub(super) fn index_note(&self, client_order_id: &str, local: u64) {
        let mut locals = self
            .in_doubt_by_client_order_id
            .entry(client_order_id.into())
            .or_default();
        if !locals.contains(&local) {
            locals.push(local);
        }
    }

    /// Drops `local` from the in-doubt index under its note's clientOrderID.
    pub(super) fn forget_note(&self, note: &InDoubtNote, local: u64) {
        if let Some(client_order_id) = &note.client_order_id {
            if let Some(mut locals) = self
                .in_doubt_by_client_order_id
                .get_mut(client_order_id.as_str())
            {
                locals.retain(|other| *other != local);
            }
            self.in_doubt_by_client_order_id
                .remove_if(client_order_id.as_str(), |_, locals| locals.is_empty());
        }
    }

    /// Admin resolution of an in-doubt order: it reached upstream under `upstream_order_id`
    /// (bind it), or it never did (`None`: release it).
    pub fn resolve_in_doubt(
        &self,
        local: LocalOrderId,
        upstream_order_id: Option<&str>,
    ) -> Result<(), LedgerError> {
        let in_doubt = self
            .orders
            .get(&local.0)
            .map(|order| order.in_doubt)
            .ok_or_else(|| unknown_order(local))?;
        if !in_doubt {
            return Err(LedgerError::Invalid(format!(
                "order {local} is not in doubt"
            )));
        }
        match upstream_order_id {
            Some(upstream_order_id) => self.bind(local, upstream_order_id),
            None => self.release(local),
        }
    }

    /// The local id an upstream orderId is bound to.
    pub fn local_id_of(&self, upstream_order_id: &str) -> Option<LocalOrderId> {
        self.local_by_upstream
            .get(upstream_order_id)
            .map(|entry| LocalOrderId(*entry.value()))
    }
}
