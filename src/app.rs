//! The application's state: what every request handler can reach. It composes the ground
//! [`Context`] (database, settings) with the domains' own handles (the catalog cache, the payment
//! gateways, the provisioning keyring and thresholds); handlers pass `&state` to a verb that
//! takes a `&Context`, by deref.

use std::ops::Deref;
use std::sync::Arc;

use sqlx::PgPool;

use crate::catalog::cache::CatalogCache;
pub use crate::context::{Context, Settings};
use crate::payments::PaymentSettings;
use crate::provisioning::Provisioning;

/// What every request handler can reach. Cheap to clone; nothing in it is per-node state that
/// another node would need (sessions, carts and jobs live in PostgreSQL; the console count is
/// this node's own).
#[derive(Clone)]
pub struct AppState {
    pub context: Context,
    /// This node's copy of the catalog, dropped on every catalog change (see `catalog::cache`).
    pub catalog: CatalogCache,
    /// The payment gateways offered.
    pub payments: Arc<PaymentSettings>,
    /// The credential keyring and the thresholds of a service's life.
    pub provisioning: Arc<Provisioning>,
    /// The browser consoles open on this node (the one piece of per-node state: a console is
    /// a live connection to this process).
    pub consoles: Arc<crate::services::console::Slots>,
}

impl AppState {
    pub fn new(
        db: PgPool,
        settings: Settings,
        payments: PaymentSettings,
        provisioning: Arc<Provisioning>,
    ) -> Self {
        Self {
            context: Context::new(db, settings),
            catalog: CatalogCache::new(),
            payments: Arc::new(payments),
            provisioning,
            consoles: Arc::default(),
        }
    }
}

impl AppState {
    /// The database and this node's catalog cache, for the catalog's operations.
    pub fn catalog_store(&self) -> crate::catalog::manage::Store {
        crate::catalog::manage::Store {
            db: self.db.clone(),
            catalog: self.catalog.clone(),
        }
    }
}

impl Deref for AppState {
    type Target = Context;

    fn deref(&self) -> &Context {
        &self.context
    }
}

impl axum::extract::FromRef<AppState> for Context {
    fn from_ref(state: &AppState) -> Self {
        state.context.clone()
    }
}

impl axum::extract::FromRef<AppState> for crate::web::extract::ForwardedFor {
    fn from_ref(state: &AppState) -> Self {
        Self(state.settings.trust_forwarded_for)
    }
}
