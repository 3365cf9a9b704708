//! Checks of `[[omnibus.accounts]]` (SPEC §5.4).

/// `[[omnibus.accounts]]` (SPEC §5.4): numbers present and unique, money not negative, and not
/// mixed with the shared balance's keys, which would leave it unclear which balance is meant.
pub(super) fn validate(omnibus: &super::OmnibusConfig, problem: &mut impl FnMut(&str, String)) {
    if omnibus.accounts.is_empty() {
        return;
    }
    if !omnibus.account_numbers.is_empty() {
        problem(
            "omnibus.accounts",
            "use either omnibus.account_numbers (one shared balance) or [[omnibus.accounts]] \
             (a balance each), not both"
                .to_owned(),
        );
    }
    let shared_keys_set = omnibus.funding != super::FundingMode::Prefunded
        || !omnibus.credit_limit.0.is_zero()
        || omnibus.low_balance_warning.is_some();
    if shared_keys_set {
        problem(
            "omnibus.funding",
            "omnibus.funding, credit_limit and low_balance_warning describe the shared balance of \
             account_numbers; with [[omnibus.accounts]] set them in each account"
                .to_owned(),
        );
    }
    if omnibus.accounts.len() > 256 {
        problem(
            "omnibus.accounts",
            format!("{} accounts; at most 256", omnibus.accounts.len()),
        );
    }
    for (index, account) in omnibus.accounts.iter().enumerate() {
        let key = |name: &str| format!("omnibus.accounts[{index}].{name}");
        let number = &account.number;
        if number.trim().is_empty() || number.len() > 64 {
            problem(
                &key("number"),
                format!("{number:?} is not an account number"),
            );
        }
        if omnibus.accounts[..index]
            .iter()
            .any(|earlier| earlier.number == *number)
        {
            problem(&key("number"), format!("{number} is listed twice"));
        }
        if account.credit_limit.0.is_negative() {
            problem(
                &key("credit_limit"),
                format!("{} is negative", account.credit_limit.0),
            );
        }
        if account
            .low_balance_warning
            .is_some_and(|threshold| threshold.0.is_negative())
        {
            problem(&key("low_balance_warning"), "is negative".to_owned());
        }
        if account
            .account_id
            .as_deref()
            .is_some_and(|id| id.trim().is_empty())
        {
            problem(&key("account_id"), "is blank".to_owned());
        }
    }
}
