//! What an imported snapshot must be before it is built into a ledger: each account fits the
//! configuration, each open order is possible on its own (the sums are `check_invariants`').

use super::*;

/// Each account of the snapshot must have been taken under the same funding kind, and its unsettled proceeds
/// need a configuration that still settles them.
pub(super) fn check_config(
    config: LedgerConfig,
    configured: FundingKind,
    omni: &OmniState,
) -> Result<(), String> {
    if configured != omni.funding {
        return Err(format!(
            "snapshot: the omni account is {:?} but the configuration says {configured:?}",
            omni.funding
        ));
    }
    if omni.funding == FundingKind::Prefunded
        && !(omni.credit_limit.is_zero() && omni.pending_settlement.is_zero())
    {
        return Err(format!(
            "snapshot: a prefunded omni account has a credit limit {} or pending settlement {}",
            omni.credit_limit, omni.pending_settlement
        ));
    }
    if omni.credit_limit.is_negative() {
        return Err(format!(
            "snapshot: the credit limit {} is negative",
            omni.credit_limit
        ));
    }
    if config.sell_proceeds == SellProceeds::OnFill && !omni.unsettled_proceeds.is_zero() {
        return Err(format!(
            "snapshot: {} of SELL proceeds await settlement, but the configuration credits \
             proceeds on fill (buying_power.sell_proceeds), so no roll would ever settle them",
            omni.unsettled_proceeds.money()
        ));
    }
    Ok(())
}

/// What an open order can look like, checked on its own (the sums are `check_invariants`').
pub(super) fn check_order(record: &OrderRecord) -> Result<(), String> {
    let local = record.local_id;
    let problem = |what: String| Err(format!("snapshot: order {local} {what}"));
    if record.note.is_some() && !record.in_doubt {
        return problem("keeps an in-doubt note but is not in doubt".to_string());
    }
    if record.symbol.is_empty() {
        return problem("has an empty symbol".to_string());
    }
    let terms_ok = match record.terms {
        OrderTerms::BuyQuantity {
            quantity,
            per_share,
        } => quantity.is_positive() && per_share.is_positive(),
        OrderTerms::BuyCash { amount_cash } => amount_cash.is_positive(),
        OrderTerms::Sell { quantity } => quantity.is_positive(),
    };
    if !terms_ok {
        return problem(format!(
            "has terms that are not positive: {:?}",
            record.terms
        ));
    }
    if record.fee.is_negative()
        || record.commission_rate.is_negative()
        || record.commission_rate > Fixed::ONE
    {
        return problem(format!(
            "has a fee of {} and a commission rate of {} (neither may be negative, nor the rate \
             above 1)",
            record.fee, record.commission_rate
        ));
    }
    if record.filled_quantity.is_negative() || record.filled_amount.is_negative() {
        return problem(format!(
            "has filled {} for {}: negative",
            record.filled_quantity, record.filled_amount
        ));
    }
    if record.reserved.is_negative() {
        return problem(format!("holds a negative {}", record.reserved));
    }
    if record.status.is_some_and(OrderStatus::is_final) {
        return problem(format!("is open with the final status {:?}", record.status));
    }
    match &record.upstream_order_id {
        Some(upstream) if upstream.is_empty() => problem("has an empty upstream id".to_string()),
        Some(_) if record.in_doubt => {
            problem("is bound to an upstream id yet in doubt".to_string())
        }
        _ => Ok(()),
    }
}
