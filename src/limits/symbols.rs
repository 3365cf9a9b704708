//! Sets of symbols (restricted symbols, kill-switched symbols).

use std::cmp::Ordering;

/// A set of symbols (restricted symbols, kill-switched symbols), compared ASCII-case-insensitively
/// without allocating: stored upper-cased and sorted, looked up by binary search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SymbolSet(Box<[Box<str>]>);

impl SymbolSet {
    pub fn new<'s>(symbols: impl IntoIterator<Item = &'s str>) -> Self {
        let mut symbols: Vec<Box<str>> = symbols
            .into_iter()
            .map(|symbol| symbol.trim().to_ascii_uppercase().into_boxed_str())
            .filter(|symbol| !symbol.is_empty())
            .collect();
        symbols.sort_unstable();
        symbols.dedup();
        SymbolSet(symbols.into_boxed_slice())
    }

    pub fn contains(&self, symbol: &str) -> bool {
        self.0
            .binary_search_by(|entry| compare_upper(entry, symbol))
            .is_ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|symbol| &**symbol)
    }
}

/// `upper` (already upper-case) against `other` upper-cased, byte by byte.
fn compare_upper(upper: &str, other: &str) -> Ordering {
    upper
        .bytes()
        .cmp(other.bytes().map(|byte| byte.to_ascii_uppercase()))
}
