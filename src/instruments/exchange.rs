//! The listing exchanges an instrument master names (SPEC §7). Their trading hours and cancel
//! cut-offs are rules, in [`crate::rules::market_hours`].

/// The listing exchange of an instrument, as the instrument master names it (SPEC §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Exchange {
    Nasdaq,
    Nyse,
    /// NYSE Arca.
    Arca,
    /// NYSE American.
    Amex,
    Bats,
    Iex,
    Crypto,
}

// On-disk codes (WAL records and snapshots).
crate::wire_codes!(Exchange {
    Exchange::Nasdaq = 0,
    Exchange::Nyse = 1,
    Exchange::Arca = 2,
    Exchange::Amex = 3,
    Exchange::Bats = 4,
    Exchange::Iex = 5,
    Exchange::Crypto = 6,
});

impl Exchange {
    pub const ALL: [Exchange; 7] = [
        Exchange::Nasdaq,
        Exchange::Nyse,
        Exchange::Arca,
        Exchange::Amex,
        Exchange::Bats,
        Exchange::Iex,
        Exchange::Crypto,
    ];

    /// Parses the spec's exchange string (`NASDAQ`, `NYSE`, `ARCA`, `AMEX`, `BATS`, `IEX`,
    /// `CRYPTO`); exact and upper-case, like the other enum values of the API.
    pub fn parse(text: &str) -> Option<Exchange> {
        Exchange::ALL
            .into_iter()
            .find(|exchange| exchange.as_str() == text)
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            Exchange::Nasdaq => "NASDAQ",
            Exchange::Nyse => "NYSE",
            Exchange::Arca => "ARCA",
            Exchange::Amex => "AMEX",
            Exchange::Bats => "BATS",
            Exchange::Iex => "IEX",
            Exchange::Crypto => "CRYPTO",
        }
    }
}
