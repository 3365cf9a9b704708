//! The simulator's instrument master: the one omnigate is given (`[bootstrap] instruments`, the
//! embedded demo book), read from the same entries, with the status `POST
//! /sim/instruments/{symbol}` changes (SPEC §9, "Halts").
//!
//! The in-process simulator reads omnigate's live master on a miss, so an instrument added
//! through the admin API trades upstream too. A simulator started with no instrument master at
//! all (`omnigate sim` on a config without one) keeps an *open* book: any symbol trades, as a
//! NASDAQ equity, so a router developer can rehearse without writing a master first. Otherwise
//! a symbol or `instrumentID` it does not hold is refused with DriveWealth's `I019`, as
//! DriveWealth refuses it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use super::order::OrderRequest;
use super::wire::{ApiError, JsonObject};
use crate::instruments::{AssetClass, Exchange, InstrumentSpec, InstrumentStatus};
use crate::money::Fixed;

/// Most instruments listed; an open book, or one that reads a source, stops growing there.
pub const LISTINGS_MAX: usize = 100_000;

/// One instrument as the simulator lists it.
#[derive(Debug)]
pub struct Listing {
    pub symbol: String,
    pub instrument_id: Option<String>,
    pub exchange: Exchange,
    pub asset_class: AssetClass,
    /// The master's reference price: the instrument's first price in the simulator.
    pub reference_price: Option<Fixed>,
    status: Mutex<InstrumentStatus>,
}

impl Listing {
    pub fn status(&self) -> InstrumentStatus {
        *self.status.lock()
    }

    pub fn is_crypto(&self) -> bool {
        self.asset_class == AssetClass::Crypto
    }

    /// A halt holds orders; every other status lets them trade (omnigate's rules decide what a
    /// CLOSE_ONLY or INACTIVE instrument may take before an order gets here).
    pub fn is_halted(&self) -> bool {
        self.status() == InstrumentStatus::Halted
    }

    fn from_spec(symbol: String, spec: &InstrumentSpec) -> Listing {
        Listing {
            symbol,
            instrument_id: Some(spec.instrument_id.clone()),
            exchange: spec.exchange.0,
            asset_class: spec.asset_class,
            reference_price: spec.price,
            status: Mutex::new(spec.status),
        }
    }

    fn open_book(symbol: &str) -> Listing {
        Listing {
            symbol: symbol.to_owned(),
            instrument_id: None,
            exchange: Exchange::Nasdaq,
            asset_class: AssetClass::Equity,
            reference_price: None,
            status: Mutex::new(InstrumentStatus::Active),
        }
    }
}

/// A status change, for `instruments.updated`.
#[derive(Debug)]
pub struct StatusChange {
    pub listing: Arc<Listing>,
    pub previous: InstrumentStatus,
    pub current: InstrumentStatus,
}

impl StatusChange {
    /// DriveWealth's `instruments.updated` payload: the changed attribute before and after.
    pub fn payload(&self) -> String {
        let status = |status: InstrumentStatus| {
            let mut object = JsonObject::new();
            object.string("status", status.as_str());
            object.finish()
        };
        let mut object = JsonObject::new();
        object
            .string(
                "instrumentID",
                self.listing
                    .instrument_id
                    .as_deref()
                    .unwrap_or(&self.listing.symbol),
            )
            .string("symbol", &self.listing.symbol)
            .raw("previous", &status(self.previous))
            .raw("current", &status(self.current));
        object.finish()
    }
}

/// Where a listing missing from the simulator's own may be found: a symbol or an
/// `instrumentID` in, the entry with its symbol out (omnigate's live master, in-process).
pub type Source = Box<dyn Fn(&str) -> Option<(String, InstrumentSpec)> + Send + Sync>;

#[derive(Default)]
struct Maps {
    by_symbol: HashMap<String, Arc<Listing>>,
    by_id: HashMap<String, Arc<Listing>>,
}

pub struct Listings {
    /// No master and no source: unknown symbols are listed on first use.
    open: bool,
    source: Option<Source>,
    maps: RwLock<Maps>,
}

impl Listings {
    /// The master from its entries (each with its symbol) and the source of those it lacks;
    /// with neither, the book is open.
    pub fn new(entries: &[(String, InstrumentSpec)], source: Option<Source>) -> Listings {
        let mut maps = Maps::default();
        for (symbol, spec) in entries {
            maps.insert(Arc::new(Listing::from_spec(symbol.clone(), spec)));
        }
        Listings {
            open: entries.is_empty() && source.is_none(),
            source,
            maps: RwLock::new(maps),
        }
    }

    /// Every listed symbol with its reference price, for the price feed's first prices.
    pub fn reference_prices(&self) -> Vec<(String, Fixed)> {
        self.maps
            .read()
            .by_symbol
            .values()
            .filter_map(|listing| Some((listing.symbol.clone(), listing.reference_price?)))
            .collect()
    }

    /// The instrument an order names, by `symbol` and/or `instrumentID`; two that name
    /// different instruments are refused, not guessed between.
    pub fn for_order(&self, request: &OrderRequest) -> Result<Arc<Listing>, ApiError> {
        if self.open {
            // No master to check the two against: the symbol names it, else the id does.
            return self.find(Key::Symbol(request.instrument()));
        }
        let by_id = match &request.instrument_id {
            Some(id) => Some(self.find(Key::Id(id))?),
            None => None,
        };
        let by_symbol = match &request.symbol {
            Some(symbol) => Some(self.symbol(symbol)?),
            None => None,
        };
        match (by_symbol, by_id) {
            (Some(a), Some(b)) if !Arc::ptr_eq(&a, &b) => Err(ApiError::invalid(
                "instrumentID",
                "UUID",
                format!(
                    "symbol {:?} and instrumentID {:?} name different instruments",
                    a.symbol,
                    request.instrument_id.as_deref().unwrap_or_default()
                ),
            )),
            (Some(listing), _) | (None, Some(listing)) => Ok(listing),
            (None, None) => Err(unknown("")),
        }
    }

    /// A symbol's listing.
    pub fn symbol(&self, symbol: &str) -> Result<Arc<Listing>, ApiError> {
        self.find(Key::Symbol(symbol))
    }

    /// A listing by symbol or id; on a miss, from the source, or new in an open book.
    fn find(&self, key: Key<'_>) -> Result<Arc<Listing>, ApiError> {
        if let Some(listing) = self.maps.read().get(key) {
            return Ok(Arc::clone(listing));
        }
        let text = key.text();
        let listing = match &self.source {
            Some(source) => {
                let (symbol, spec) = source(text).ok_or_else(|| unknown(text))?;
                Listing::from_spec(symbol, &spec)
            }
            None if self.open => Listing::open_book(text),
            None => return Err(unknown(text)),
        };
        let mut maps = self.maps.write();
        // Listed meanwhile by another request: that listing, so a status set on it holds.
        if let Some(listing) = maps.get(key) {
            return Ok(Arc::clone(listing));
        }
        if maps.by_symbol.len() >= LISTINGS_MAX {
            return Err(ApiError::unavailable(format!(
                "the simulator lists at most {LISTINGS_MAX} instruments"
            )));
        }
        let listing = Arc::new(listing);
        maps.insert(Arc::clone(&listing));
        Ok(listing)
    }

    /// `POST /sim/instruments/{symbol}` `{status}`: the change, or `None` when the status was
    /// already that (DriveWealth posts an event only for a change).
    pub fn set_status(
        &self,
        symbol: &str,
        status: InstrumentStatus,
    ) -> Result<Option<StatusChange>, ApiError> {
        let listing = self.symbol(symbol)?;
        let previous = std::mem::replace(&mut *listing.status.lock(), status);
        Ok((previous != status).then_some(StatusChange {
            listing,
            previous,
            current: status,
        }))
    }

    /// `GET /sim/instruments`: every listing, by symbol.
    pub fn to_json(&self) -> String {
        let maps = self.maps.read();
        let mut listings: Vec<&Arc<Listing>> = maps.by_symbol.values().collect();
        listings.sort_by(|a, b| a.symbol.cmp(&b.symbol));
        let mut out = String::from("[");
        for (index, listing) in listings.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let mut object = JsonObject::new();
            object.string("symbol", &listing.symbol);
            if let Some(id) = &listing.instrument_id {
                object.string("instrumentID", id);
            }
            object
                .string("exchange", listing.exchange.as_str())
                .string("status", listing.status().as_str());
            out.push_str(&object.finish());
        }
        out.push(']');
        out
    }
}

#[derive(Clone, Copy)]
enum Key<'k> {
    Symbol(&'k str),
    Id(&'k str),
}

impl Key<'_> {
    fn text(&self) -> &str {
        match self {
            Key::Symbol(text) | Key::Id(text) => text,
        }
    }
}

impl Maps {
    fn get(&self, key: Key<'_>) -> Option<&Arc<Listing>> {
        match key {
            Key::Symbol(symbol) => self.by_symbol.get(symbol),
            Key::Id(id) => self.by_id.get(id),
        }
    }

    fn insert(&mut self, listing: Arc<Listing>) {
        if let Some(id) = &listing.instrument_id {
            self.by_id.insert(id.clone(), Arc::clone(&listing));
        }
        self.by_symbol.insert(listing.symbol.clone(), listing);
    }
}

/// DriveWealth's `I019`: "invalid symbol(s) in the request body".
fn unknown(instrument: &str) -> ApiError {
    ApiError::plain(
        400,
        "I019",
        format!("Invalid symbol: {instrument:?} is not a listed instrument"),
    )
}
