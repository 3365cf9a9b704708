//! Why a change was refused: one type for every admin change and event, carrying the kind of
//! answer it deserves. The admin API turns it into a status in one place (`http::admin`).

use super::StorageError;
use crate::instruments::InstrumentError;
use crate::ledger::LedgerError;
use crate::limits::OverrideError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    /// The request does not make sense (a bad value, a malformed body).
    #[error("{0}")]
    Invalid(String),
    /// It names a customer, instrument or order that is not there.
    #[error("{0}")]
    NotFound(String),
    /// It collides with what is there (a clientID already taken, an order id bound elsewhere).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed, but the rules refuse it (beyond available, an override too long).
    #[error("{0}")]
    Refused(String),
    /// Beyond what is available, with the §3.1 code that says at which account.
    #[error("{message}")]
    BeyondAvailable { code: &'static str, message: String },
    /// The WAL cannot take it: nothing changed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<LedgerError> for ChangeError {
    fn from(error: LedgerError) -> Self {
        let message = error.to_string();
        match error {
            LedgerError::Conflict(_) => ChangeError::Conflict(message),
            LedgerError::NotFound(_) => ChangeError::NotFound(message),
            LedgerError::Invalid(_) => ChangeError::Invalid(message),
            LedgerError::Refused(_) | LedgerError::Overflow(_) => ChangeError::Refused(message),
            LedgerError::BeyondAvailable { code, message } => ChangeError::BeyondAvailable {
                code: code.as_str(),
                message,
            },
        }
    }
}

impl From<InstrumentError> for ChangeError {
    fn from(error: InstrumentError) -> Self {
        ChangeError::Invalid(error.0)
    }
}

impl From<OverrideError> for ChangeError {
    fn from(error: OverrideError) -> Self {
        ChangeError::Refused(error.to_string())
    }
}
