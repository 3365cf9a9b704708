//! The instrument master: what omnigate knows of each instrument, by symbol, by DriveWealth's
//! `instrumentID` and by ISIN. Each identifier names one instrument: an entry whose
//! `instrumentID` or ISIN already belongs to another symbol is refused, so an order's
//! identifiers can never be read two ways.
//!
//! Entries come from the bootstrap file and `PUT /admin/instruments/{symbol}`; status changes
//! also come from `instruments.updated` events, and reference prices from `POST /admin/prices`.
//! Status and price live in atomics inside the shared entry, so an order's lookup is one map read
//! and no lock is held while it is decided.

use std::sync::atomic::{AtomicI64, AtomicU8, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

mod exchange;

pub use exchange::Exchange;

use crate::fast_map::FastMap;
use crate::money::{self, Fixed};
use crate::order::{InstrumentKey, InstrumentRef};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AssetClass {
    Equity,
    Etf,
    Crypto,
    MutualFund,
}

// On-disk codes (WAL records and snapshots).
crate::wire_codes!(AssetClass {
    AssetClass::Equity = 0,
    AssetClass::Etf = 1,
    AssetClass::Crypto = 2,
    AssetClass::MutualFund = 3,
});

/// DriveWealth's instrument `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[repr(u8)]
pub enum InstrumentStatus {
    Active = 0,
    Inactive = 1,
    CloseOnly = 2,
    Halted = 3,
}

// On-disk codes (WAL records and snapshots); the same numbers as the in-memory `repr`.
crate::wire_codes!(InstrumentStatus {
    InstrumentStatus::Active = 0,
    InstrumentStatus::Inactive = 1,
    InstrumentStatus::CloseOnly = 2,
    InstrumentStatus::Halted = 3,
});

impl InstrumentStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ACTIVE" => Some(Self::Active),
            "INACTIVE" => Some(Self::Inactive),
            "CLOSE_ONLY" => Some(Self::CloseOnly),
            "HALTED" => Some(Self::Halted),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
            Self::CloseOnly => "CLOSE_ONLY",
            Self::Halted => "HALTED",
        }
    }

    fn from_u8(value: u8) -> Self {
        match value {
            0 => Self::Active,
            1 => Self::Inactive,
            2 => Self::CloseOnly,
            _ => Self::Halted,
        }
    }
}

/// The body of `PUT /admin/instruments/{symbol}` (and one line of the bootstrap file, which also
/// carries `symbol`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstrumentSpec {
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(rename = "instrumentID")]
    pub instrument_id: String,
    /// ISO 6166 identifier, when the partner's master has one (orders may name it instead).
    #[serde(rename = "ISIN", default)]
    pub isin: Option<String>,
    #[serde(rename = "assetClass")]
    pub asset_class: AssetClass,
    pub exchange: ExchangeName,
    pub status: InstrumentStatus,
    pub fractionable: bool,
    /// Reference price (the partner's market data); may be updated by `POST /admin/prices`.
    #[serde(default, deserialize_with = "money::exact::option")]
    pub price: Option<Fixed>,
    #[serde(
        rename = "orderSizeMin",
        default,
        deserialize_with = "money::exact::option"
    )]
    pub order_size_min: Option<Fixed>,
    #[serde(
        rename = "orderSizeMax",
        default,
        deserialize_with = "money::exact::option"
    )]
    pub order_size_max: Option<Fixed>,
    #[serde(
        rename = "orderSizeStep",
        default,
        deserialize_with = "money::exact::option"
    )]
    pub order_size_step: Option<Fixed>,
}

/// An exchange as the admin API spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExchangeName(pub Exchange);

impl<'de> Deserialize<'de> for ExchangeName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Exchange::parse(&text).map(ExchangeName).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "exchange {text:?} is not one of NASDAQ, NYSE, ARCA, AMEX, BATS, IEX, CRYPTO"
            ))
        })
    }
}

/// One instrument. Status and reference price change in place.
#[derive(Debug)]
pub struct Instrument {
    pub symbol: String,
    pub instrument_id: String,
    pub isin: Option<String>,
    pub asset_class: AssetClass,
    pub exchange: Exchange,
    pub fractionable: bool,
    pub order_size_min: Option<Fixed>,
    pub order_size_max: Option<Fixed>,
    pub order_size_step: Option<Fixed>,
    status: AtomicU8,
    /// 10⁻⁸ units; 0 means no reference price is known.
    reference_price: AtomicI64,
}

impl Instrument {
    pub fn status(&self) -> InstrumentStatus {
        InstrumentStatus::from_u8(self.status.load(Ordering::Acquire))
    }

    /// Crate-only: status changes go through the engine, which logs them.
    pub(crate) fn set_status(&self, status: InstrumentStatus) {
        self.status.store(status as u8, Ordering::Release);
    }

    pub fn reference_price(&self) -> Option<Fixed> {
        let units = self.reference_price.load(Ordering::Acquire);
        (units > 0).then(|| Fixed::from_units(units))
    }

    /// Crate-only: prices change through `Engine::set_prices`, which logs them.
    pub(crate) fn set_reference_price(&self, price: Fixed) {
        self.reference_price.store(price.units(), Ordering::Release);
    }

    pub fn is_crypto(&self) -> bool {
        self.asset_class == AssetClass::Crypto
    }

    /// This entry as the spec it could be loaded from (the in-process simulator lists
    /// omnigate's instruments from it).
    pub fn to_spec(&self) -> InstrumentSpec {
        InstrumentSpec {
            symbol: Some(self.symbol.clone()),
            instrument_id: self.instrument_id.clone(),
            isin: self.isin.clone(),
            asset_class: self.asset_class,
            exchange: ExchangeName(self.exchange),
            status: self.status(),
            fractionable: self.fractionable,
            price: self.reference_price(),
            order_size_min: self.order_size_min,
            order_size_max: self.order_size_max,
            order_size_step: self.order_size_step,
        }
    }

    /// The admin API's view of this entry.
    pub fn to_json(&self) -> serde_json::Value {
        let fixed = |value: Option<Fixed>| value.map(|v| v.to_string());
        serde_json::json!({
            "symbol": self.symbol,
            "instrumentID": self.instrument_id,
            "ISIN": self.isin,
            "assetClass": self.asset_class,
            "exchange": self.exchange.as_str(),
            "status": self.status().as_str(),
            "fractionable": self.fractionable,
            "price": fixed(self.reference_price()),
            "orderSizeMin": fixed(self.order_size_min),
            "orderSizeMax": fixed(self.order_size_max),
            "orderSizeStep": fixed(self.order_size_step),
        })
    }
}

/// Why an instrument entry was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InstrumentError(pub String);

/// Why an order's identifiers do not name one instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved<'o> {
    /// This identifier is not in the master.
    Unknown(InstrumentKey, &'o str),
    /// Each is known, but they name different instruments.
    Disagree {
        first: (InstrumentKey, &'o str, String),
        second: (InstrumentKey, &'o str, String),
    },
}

/// Every instrument, by symbol, by `instrumentID` and by ISIN.
#[derive(Default)]
pub struct InstrumentMaster {
    by_symbol: FastMap<String, Arc<Instrument>>,
    symbol_by_id: FastMap<String, String>,
    symbol_by_isin: FastMap<String, String>,
}

impl InstrumentMaster {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces the entry for `symbol`. Crate-only: outside the engine, entries change
    /// through `Engine::upsert_instrument`, which logs them.
    pub(crate) fn upsert(
        &self,
        symbol: &str,
        spec: InstrumentSpec,
    ) -> Result<Arc<Instrument>, InstrumentError> {
        validate(symbol, &spec)?;
        let taken =
            |index: &FastMap<String, String>, field: &str, value: &str| match index.get(value) {
                Some(owner) if owner.value() != symbol => Err(InstrumentError(format!(
                    "{field} {value:?} already belongs to {}",
                    owner.value()
                ))),
                _ => Ok(()),
            };
        taken(&self.symbol_by_id, "instrumentID", &spec.instrument_id)?;
        if let Some(isin) = &spec.isin {
            taken(&self.symbol_by_isin, "ISIN", isin)?;
        }
        let instrument = Arc::new(Instrument {
            symbol: symbol.to_owned(),
            instrument_id: spec.instrument_id.clone(),
            isin: spec.isin.clone(),
            asset_class: spec.asset_class,
            exchange: spec.exchange.0,
            fractionable: spec.fractionable,
            order_size_min: spec.order_size_min,
            order_size_max: spec.order_size_max,
            order_size_step: spec.order_size_step,
            status: AtomicU8::new(spec.status as u8),
            reference_price: AtomicI64::new(spec.price.map_or(0, Fixed::units)),
        });
        if let Some(previous) = self.by_symbol.insert(symbol.to_owned(), instrument.clone()) {
            if previous.instrument_id != instrument.instrument_id {
                self.symbol_by_id.remove(&previous.instrument_id);
            }
            if let Some(isin) = previous
                .isin
                .as_ref()
                .filter(|&isin| Some(isin) != spec.isin.as_ref())
            {
                self.symbol_by_isin.remove(isin);
            }
        }
        self.symbol_by_id
            .insert(spec.instrument_id, symbol.to_owned());
        if let Some(isin) = spec.isin {
            self.symbol_by_isin.insert(isin, symbol.to_owned());
        }
        Ok(instrument)
    }

    /// DriveWealth renamed an instrument (a ticker change): the entry moves from `old` to `new`
    /// with everything else as it was, its instrumentID and ISIN now leading to `new`. Refused
    /// when `new` is not a ticker or already names another entry. Crate-only, like `upsert`.
    pub(crate) fn rename(&self, old: &str, new: &str) -> Result<Arc<Instrument>, InstrumentError> {
        if !is_ticker(new) {
            return Err(InstrumentError(format!("symbol {new:?} is not a ticker")));
        }
        if self.by_symbol.contains_key(new) {
            return Err(InstrumentError(format!(
                "symbol {new} already names another instrument"
            )));
        }
        let (_, previous) = self.by_symbol.remove(old).ok_or_else(|| {
            InstrumentError(format!("symbol {old} is not in the instrument master"))
        })?;
        let renamed = Arc::new(Instrument {
            symbol: new.to_owned(),
            instrument_id: previous.instrument_id.clone(),
            isin: previous.isin.clone(),
            asset_class: previous.asset_class,
            exchange: previous.exchange,
            fractionable: previous.fractionable,
            order_size_min: previous.order_size_min,
            order_size_max: previous.order_size_max,
            order_size_step: previous.order_size_step,
            status: AtomicU8::new(previous.status() as u8),
            reference_price: AtomicI64::new(previous.reference_price.load(Ordering::Acquire)),
        });
        self.by_symbol.insert(new.to_owned(), renamed.clone());
        self.symbol_by_id
            .insert(renamed.instrument_id.clone(), new.to_owned());
        if let Some(isin) = &renamed.isin {
            self.symbol_by_isin.insert(isin.clone(), new.to_owned());
        }
        Ok(renamed)
    }

    /// The instrument one identifier names.
    pub fn lookup(&self, key: InstrumentKey, value: &str) -> Option<Arc<Instrument>> {
        match key {
            InstrumentKey::Symbol => self.by_symbol(value),
            InstrumentKey::InstrumentId => self.by_instrument_id(value),
            InstrumentKey::Isin => {
                let symbol = self.symbol_by_isin.get(value)?;
                self.by_symbol(symbol.value())
            }
        }
    }

    /// The one instrument an order names: every identifier it gives must be known and name the
    /// same entry (SPEC §3.0).
    pub fn resolve<'o>(
        &self,
        reference: &'o InstrumentRef<'_>,
    ) -> Result<Arc<Instrument>, Unresolved<'o>> {
        let mut found: Option<(InstrumentKey, &'o str, Arc<Instrument>)> = None;
        for (key, value) in reference.given() {
            let instrument = self
                .lookup(key, value)
                .ok_or(Unresolved::Unknown(key, value))?;
            match &found {
                None => found = Some((key, value, instrument)),
                Some((first_key, first_value, first)) => {
                    if !Arc::ptr_eq(first, &instrument) {
                        return Err(Unresolved::Disagree {
                            first: (*first_key, first_value, first.symbol.clone()),
                            second: (key, value, instrument.symbol.clone()),
                        });
                    }
                }
            }
        }
        // The parser guarantees one identifier; an empty reference names nothing.
        found
            .map(|(_, _, instrument)| instrument)
            .ok_or(Unresolved::Unknown(InstrumentKey::Symbol, ""))
    }

    pub fn by_symbol(&self, symbol: &str) -> Option<Arc<Instrument>> {
        self.by_symbol
            .get(symbol)
            .map(|entry| entry.value().clone())
    }

    pub fn by_instrument_id(&self, id: &str) -> Option<Arc<Instrument>> {
        let symbol = self.symbol_by_id.get(id)?;
        self.by_symbol(symbol.value())
    }

    /// Every entry (for snapshots and listings).
    pub fn all(&self) -> Vec<Arc<Instrument>> {
        self.by_symbol
            .iter()
            .map(|entry| entry.value().clone())
            .collect()
    }

    pub fn len(&self) -> usize {
        self.by_symbol.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_symbol.is_empty()
    }
}

/// 1 to 32 of `[A-Za-z0-9./_-]`.
fn is_ticker(symbol: &str) -> bool {
    !symbol.is_empty()
        && symbol.len() <= 32
        && symbol
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'/' | b'_'))
}

fn validate(symbol: &str, spec: &InstrumentSpec) -> Result<(), InstrumentError> {
    let bad = |message: String| Err(InstrumentError(message));
    if !is_ticker(symbol) {
        return bad(format!("symbol {symbol:?} is not a ticker"));
    }
    if let Some(inner) = &spec.symbol {
        if inner != symbol {
            return bad(format!(
                "symbol {inner:?} in the body differs from {symbol:?}"
            ));
        }
    }
    if spec.instrument_id.trim().is_empty() || spec.instrument_id.len() > 64 {
        return bad("instrumentID must be 1 to 64 characters".to_owned());
    }
    if let Some(isin) = &spec.isin {
        if !is_isin_shaped(isin) {
            return bad(format!(
                "ISIN {:?} is not 12 characters: 2 letters, 9 letters or digits, 1 digit",
                isin.chars().take(20).collect::<String>()
            ));
        }
    }
    for (name, value) in [
        ("price", spec.price),
        ("orderSizeMin", spec.order_size_min),
        ("orderSizeMax", spec.order_size_max),
        ("orderSizeStep", spec.order_size_step),
    ] {
        if value.is_some_and(|v| !v.is_positive()) {
            return bad(format!("{name} must be above zero"));
        }
    }
    if let (Some(min), Some(max)) = (spec.order_size_min, spec.order_size_max) {
        if min > max {
            return bad(format!("orderSizeMin {min} is above orderSizeMax {max}"));
        }
    }
    if (spec.asset_class == AssetClass::Crypto) != (spec.exchange.0 == Exchange::Crypto) {
        return bad("assetClass CRYPTO and exchange CRYPTO go together".to_owned());
    }
    Ok(())
}

/// ISO 6166's shape (the check digit is the issuer's to get right, not ours to recompute).
fn is_isin_shaped(isin: &str) -> bool {
    let bytes = isin.as_bytes();
    bytes.len() == 12
        && bytes[..2].iter().all(u8::is_ascii_uppercase)
        && bytes[2..11]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && bytes[11].is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> InstrumentSpec {
        serde_json::from_str(json).unwrap()
    }

    const AAPL: &str = r#"{"instrumentID":"a67422af-8504-43df-9e63-7361eb0bd99e","assetClass":"EQUITY",
        "exchange":"NASDAQ","status":"ACTIVE","fractionable":true,"price":"190.00",
        "orderSizeMin":0.00000001,"orderSizeStep":"0.00000001"}"#;

    #[test]
    fn entries_are_found_by_symbol_and_instrument_id() {
        let master = InstrumentMaster::new();
        master.upsert("AAPL", spec(AAPL)).unwrap();
        let by_symbol = master.lookup(InstrumentKey::Symbol, "AAPL").unwrap();
        let by_id = master
            .lookup(
                InstrumentKey::InstrumentId,
                "a67422af-8504-43df-9e63-7361eb0bd99e",
            )
            .unwrap();
        assert!(Arc::ptr_eq(&by_symbol, &by_id));
        assert_eq!(by_symbol.reference_price().unwrap().to_string(), "190");
        assert_eq!(by_symbol.order_size_min.unwrap().units(), 1);
        by_id.set_status(InstrumentStatus::Halted);
        assert_eq!(by_symbol.status(), InstrumentStatus::Halted);
        assert!(master.lookup(InstrumentKey::Symbol, "MSFT").is_none());
    }

    #[test]
    fn an_order_names_one_instrument_or_is_refused() {
        let master = InstrumentMaster::new();
        let with_isin = AAPL.replace("\"assetClass\"", "\"ISIN\":\"US0378331005\",\"assetClass\"");
        master.upsert("AAPL", spec(&with_isin)).unwrap();
        let spy = AAPL
            .replace("a67422af", "c9a5f4f2")
            .replace("EQUITY", "ETF");
        master.upsert("SPY", spec(&spy)).unwrap();
        let named =
            |symbol: Option<&'static str>, id: Option<&'static str>, isin: Option<&'static str>| {
                InstrumentRef {
                    symbol: symbol.map(Into::into),
                    instrument_id: id.map(Into::into),
                    isin: isin.map(Into::into),
                }
            };
        let aapl_id = "a67422af-8504-43df-9e63-7361eb0bd99e";
        let spy_id = "c9a5f4f2-8504-43df-9e63-7361eb0bd99e";
        let all_agree = named(Some("AAPL"), Some(aapl_id), Some("US0378331005"));
        assert_eq!(master.resolve(&all_agree).unwrap().symbol, "AAPL");
        assert_eq!(
            master
                .resolve(&named(None, None, Some("US0378331005")))
                .unwrap()
                .symbol,
            "AAPL"
        );
        let mixed = named(Some("AAPL"), Some(spy_id), None);
        assert!(matches!(
            master.resolve(&mixed),
            Err(Unresolved::Disagree { .. })
        ));
        let unknown = named(Some("AAPL"), None, Some("US9999999999"));
        assert_eq!(
            master.resolve(&unknown).unwrap_err(),
            Unresolved::Unknown(InstrumentKey::Isin, "US9999999999")
        );
    }

    #[test]
    fn an_identifier_belongs_to_one_symbol() {
        let master = InstrumentMaster::new();
        master.upsert("AAPL", spec(AAPL)).unwrap();
        let error = master.upsert("AAPL2", spec(AAPL)).unwrap_err();
        assert!(error.0.contains("already belongs to AAPL"), "{}", error.0);
        let bad_isin = AAPL.replace("\"assetClass\"", "\"ISIN\":\"US03783310\",\"assetClass\"");
        assert!(master.upsert("AAPL", spec(&bad_isin)).is_err());
    }

    #[test]
    fn bad_entries_are_refused() {
        let master = InstrumentMaster::new();
        assert!(master.upsert("AA PL", spec(AAPL)).is_err());
        let crypto_on_nasdaq = AAPL.replace("EQUITY", "CRYPTO");
        assert!(master.upsert("BTC", spec(&crypto_on_nasdaq)).is_err());
        assert!(serde_json::from_str::<InstrumentSpec>(&AAPL.replace("NASDAQ", "LSE")).is_err());
        assert!(serde_json::from_str::<InstrumentSpec>(&AAPL.replace("ACTIVE", "OPEN")).is_err());
        assert!(
            serde_json::from_str::<InstrumentSpec>(&AAPL.replace("\"price\"", "\"prize\""))
                .is_err()
        );
        let inverted = AAPL.replace(
            "\"orderSizeStep\":\"0.00000001\"",
            "\"orderSizeMax\":\"0.000000001\"",
        );
        assert!(serde_json::from_str::<InstrumentSpec>(&inverted).is_err());
    }

    #[test]
    fn replacing_an_entry_moves_its_instrument_id() {
        let master = InstrumentMaster::new();
        master.upsert("AAPL", spec(AAPL)).unwrap();
        master
            .upsert("AAPL", spec(&AAPL.replace("a67422af", "b67422af")))
            .unwrap();
        assert!(master
            .by_instrument_id("a67422af-8504-43df-9e63-7361eb0bd99e")
            .is_none());
        assert!(master
            .by_instrument_id("b67422af-8504-43df-9e63-7361eb0bd99e")
            .is_some());
        assert_eq!(master.len(), 1);
    }
}
