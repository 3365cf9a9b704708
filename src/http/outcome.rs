//! What became of each request the order front answered: counted in `/metrics` by its code
//! (SPEC §11) and written to the audit trail (SPEC §11.1). An order counts as `ACCEPTED` once the
//! upstream took it; an upstream refusal, an upstream error and an order left in doubt are their
//! own outcomes.

use bytes::Bytes;
use http::header::HeaderValue;
use http::Response;

use super::front::{Answer, Front};
use super::respond::{self, GatewayError};
use crate::audit::{Entry, Request as AuditRequest};
use crate::ledger::LocalOrderId;
use crate::reject::Reject;
use crate::upstream::ProxyBody;
use AuditRequest::{Cancel, Order};

/// Counts one decision in `omnigate_decisions_total{code}`. Each order thread keeps the handle
/// of every code it has counted: the `counter!` macro looks its name and label up in the
/// recorder's registry (hashing both) on every call. The recorder is installed before the order
/// threads start, so no handle kept here is one from before it.
pub(super) fn count_decision(code: &'static str) {
    thread_local! {
        static COUNTERS: std::cell::RefCell<Vec<(&'static str, metrics::Counter)>> =
            const { std::cell::RefCell::new(Vec::new()) };
    }
    COUNTERS.with_borrow_mut(|counters| {
        // The codes are a few dozen constants: a scan of those seen is quicker than a hash.
        match counters.iter().find(|(seen, _)| *seen == code) {
            Some((_, counter)) => counter.increment(1),
            None => {
                let counter = metrics::counter!("omnigate_decisions_total", "code" => code);
                counter.increment(1);
                counters.push((code, counter));
            }
        }
    });
}

/// What became of an accepted order or cancel, for `/metrics` and the audit trail.
pub(super) struct Outcome {
    /// `ACCEPTED`, `UPSTREAM_REJECTED`, `UPSTREAM_ERROR`, or the failure's code.
    code: &'static str,
    status: Option<u16>,
    /// An upstream's error answer (not a success: its id is kept on its own).
    answer: Option<Bytes>,
    message: Option<String>,
    /// The accepted order's local id, which joins this line to its decision's.
    local: Option<LocalOrderId>,
}

/// Largest upstream error answer kept in the audit trail.
const AUDITED_ANSWER_BYTES_MAX: usize = 4096;

impl Outcome {
    pub(super) fn answered(code: &'static str, answer: &Answer) -> Outcome {
        let status = answer.parts.status;
        Outcome {
            code,
            status: Some(status.as_u16()),
            answer: (!status.is_success() && answer.body.len() <= AUDITED_ANSWER_BYTES_MAX)
                .then(|| answer.body.clone()),
            message: None,
            local: None,
        }
    }

    pub(super) fn failed(error: &GatewayError) -> Outcome {
        Outcome {
            code: error.status_and_code().1,
            status: None,
            answer: None,
            message: Some(error.to_string()),
            local: None,
        }
    }

    pub(super) fn of(mut self, local: LocalOrderId) -> Outcome {
        self.local = Some(local);
        self
    }
}

impl Front {
    /// A request answered here with a rejection: counted by its code (SPEC §11: every code,
    /// including those that come before a decision) and audited.
    pub(super) fn refused(
        &self,
        request: AuditRequest,
        reject: Reject,
        body: &Bytes,
        key: Option<&HeaderValue>,
    ) -> Response<ProxyBody> {
        self.refuse(request, reject, body, key, None)
    }

    /// [`Front::refused`] for a cancel of `order_id`.
    pub(super) fn refused_cancel(
        &self,
        order_id: &str,
        reject: Reject,
        body: &Bytes,
    ) -> Response<ProxyBody> {
        self.refuse(Cancel, reject, body, None, Some(order_id.to_owned()))
    }

    fn refuse(
        &self,
        request: AuditRequest,
        reject: Reject,
        body: &Bytes,
        key: Option<&HeaderValue>,
        order_id: Option<String>,
    ) -> Response<ProxyBody> {
        count_decision(reject.code.as_str());
        self.note_decision(
            request,
            body,
            key,
            reject.code.as_str(),
            Some(&reject.message),
            order_id,
        );
        respond::rejected(&reject)
    }

    /// A request the router refused before reading it (SPEC §3.0).
    pub(super) fn note_refusal(&self, reject: &Reject, method: &http::Method, path: &str) {
        count_decision(reject.code.as_str());
        let audit = self.engine.audit();
        if audit.is_on() {
            audit.record(Entry::Decision {
                ts: self.engine.now(),
                request: AuditRequest::Other,
                body: Bytes::new(),
                code: reject.code.as_str(),
                message: Some(reject.message.clone()),
                idempotency_key: None,
                order_id: None,
                target: Some((method.clone(), path.to_owned())),
                customer: None,
            });
        }
    }

    pub(super) fn note_decision(
        &self,
        request: AuditRequest,
        body: &Bytes,
        key: Option<&HeaderValue>,
        code: &'static str,
        message: Option<&str>,
        order_id: Option<String>,
    ) {
        let audit = self.engine.audit();
        if audit.is_on() {
            audit.record(Entry::Decision {
                ts: self.engine.now(),
                customer: self.cancel_customer(request, order_id.as_deref()),
                request,
                body: body.clone(),
                code,
                message: message.map(str::to_owned),
                idempotency_key: key.map(|key| Bytes::copy_from_slice(key.as_bytes())),
                order_id,
                target: None,
            });
        }
    }

    /// What became of an accepted request. An order's outcome is what `/metrics` counts: an
    /// order is `ACCEPTED` once the upstream took it, not when omnigate let it through.
    pub(super) fn note_outcome(
        &self,
        request: AuditRequest,
        body: &Bytes,
        key: Option<&HeaderValue>,
        outcome: Outcome,
        order_id: Option<String>,
    ) {
        if request == Order {
            count_decision(outcome.code);
        }
        let audit = self.engine.audit();
        if audit.is_on() {
            audit.record(Entry::Upstream {
                ts: self.engine.now(),
                customer: self.cancel_customer(request, order_id.as_deref()),
                request,
                body: body.clone(),
                code: outcome.code,
                status: outcome.status,
                answer: outcome.answer,
                message: outcome.message,
                local_id: outcome.local.map(|local| local.0),
                order_id,
                idempotency_key: key.map(|key| Bytes::copy_from_slice(key.as_bytes())),
            });
        }
    }

    /// A cancel's customer, as the ledger knows the order it names.
    fn cancel_customer(&self, request: AuditRequest, order_id: Option<&str>) -> Option<String> {
        match (request, order_id) {
            (Cancel, Some(order_id)) => self.engine.client_of_order(order_id),
            _ => None,
        }
    }
}
