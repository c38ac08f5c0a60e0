//! The web kit: what every domain's HTTP modules share and none of them owns. Extractors
//! (`extract`), the page layout and rendering (`pages`), forms and notices (`forms`), the CSRF
//! guard (`csrf`), request metrics (`metrics`), rate-limit counters (`rate_limit`), the OpenAPI
//! helpers (`openapi`), static assets (`assets`), uploaded forms and files (`upload`) and the accept
//! loop (`server`).
//!
//! It imports no domain: the domains import it, and `crate::router` assembles them on top.

pub mod assets;
pub mod bars;
pub mod charts;
pub mod csrf;
pub mod extract;
pub mod forms;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod paging;
pub mod rate_limit;
pub mod server;
pub mod upload;
