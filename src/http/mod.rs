//! The listeners: the order front (DriveWealth's paths), the transparent proxy behind it, and the
//! admin API (its bulk loads in `bulk`), all on one connection server that puts a limit on
//! everything a client can send.

pub mod admin;
mod audit;
pub mod auth;
pub mod body;
mod bulk;
mod cash;
pub mod cores;
mod customers;
mod dashboard;
pub mod front;
mod openapi;
mod outcome;
pub mod proxy;
pub mod request_id;
mod resolve;
pub mod respond;
pub mod route;
pub mod server;
mod stop;
