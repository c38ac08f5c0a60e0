//! The in-process catalog cache: what the storefront and the public catalog API read.
//!
//! # Design
//!
//! A [`Catalog`] is an immutable snapshot of what is on sale: every category, the active
//! locations, and the active plans with their features (in order) and the active locations
//! they are sold in. Readers share it through an `Arc`; a cache hit takes a read lock, compares
//! two numbers and clones an `Arc` — no database round trip.
//!
//! A snapshot is served only while it is both
//!
//! * **current**: it was loaded at the cache's current *generation*. [`CatalogCache::invalidate`]
//!   bumps the generation. Two things call it: the admin API right after each committed write
//!   (so this node shows an edit at once, even without the listener), and the listener task
//!   ([`CatalogCache::spawn_listener`], started by `serve`) on every PostgreSQL notification on
//!   channel [`CHANNEL`]. The notifications come from statement triggers on the catalog
//!   tables (migration `20261126000003_catalog.sql`), so an edit made on *any* node, by
//!   `nextgenrdp catalog import`, or by hand in psql reaches every node as soon as it commits.
//! * **young**: loaded less than [`TTL`] (1 s) ago. This safety net bounds staleness whatever
//!   happens to notifications — a listener reconnecting (notifications sent meanwhile are lost;
//!   the listener also bumps the generation on every reconnect), or no listener at all (the
//!   test harness builds `AppState` without `serve`). So no node serves a price more than about
//!   a second after it changed, and a busy node reloads at most once a second.
//!
//! The age counts from when a load *started*, and the generation is read before it starts: an
//! edit that commits while a load runs either is in the snapshot or has bumped the generation
//! past it, so the snapshot is dropped at the next read. Loads are single-flight (one per node
//! at a time; concurrent readers of a stale snapshot wait for it rather than stampede the
//! database), and a load reads all the catalog tables in one read-only REPEATABLE READ transaction,
//! so a snapshot never mixes a plan's old price with its new features.
//!
//! Nothing here is state another node needs: losing the cache costs one reload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use super::os_templates::{self, OsChoice};
use super::{categories, locations, plan_features, plans};
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::money::format_pkr;

/// The longest a snapshot is served, whatever the notifications say.
pub const TTL: Duration = Duration::from_secs(1);

/// The PostgreSQL notification channel the catalog triggers notify.
pub const CHANNEL: &str = "nextgenrdp_catalog";

/// A category as visitors see it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct CategoryView {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub description: Option<String>,
    pub display_order: i32,
}

/// An open location as visitors see it.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct LocationView {
    pub id: i32,
    pub slug: String,
    pub name: String,
    pub country_code: String,
    pub city: Option<String>,
    pub display_order: i32,
}

/// A plan on sale as visitors see it: price as integer rupees plus its display form, features
/// in order, and the open locations it is sold in.
#[derive(Clone, Debug, Serialize, PartialEq, utoipa::ToSchema)]
pub struct PlanView {
    pub id: String,
    pub category_id: i32,
    /// The category's slug (`rdp`, `vps`).
    pub category: String,
    pub name: String,
    pub description: Option<String>,
    pub cpu: String,
    pub ram: String,
    pub storage: String,
    pub bandwidth: String,
    pub os: Option<String>,
    pub price_pkr: i32,
    /// `Rs 2,500`.
    pub price_display: String,
    pub theme_color: String,
    pub label: Option<String>,
    pub display_order: i32,
    pub features: Vec<String>,
    pub locations: Vec<LocationView>,
    /// The operating systems a customer may choose for it (empty: the plan's one image).
    pub templates: Vec<OsChoice>,
}

impl PlanView {
    pub fn is_sold_in(&self, location_id: i32) -> bool {
        self.locations.iter().any(|l| l.id == location_id)
    }
}

/// One immutable snapshot of what is on sale.
#[derive(Debug)]
pub struct Catalog {
    categories: Vec<CategoryView>,
    locations: Vec<LocationView>,
    plans: Vec<PlanView>,
    plan_index: HashMap<String, usize>,
    generation: u64,
    loaded_at: Instant,
    /// The catalog API's answers made from this snapshot, serialised and tagged once (see
    /// [`Catalog::json`]). Measured by `bench/run`: serialising the 7.5 kB plan list and
    /// SHA-256-hashing it for the ETag on every request took about a third of the server's CPU
    /// under load. Bounded by the snapshot itself (one entry per endpoint, plan, and checked
    /// filter combination) and dropped with it.
    json: Mutex<HashMap<JsonKey, Arc<CachedJson>>>,
}

impl Catalog {
    /// Every category, in display order.
    pub fn categories(&self) -> &[CategoryView] {
        &self.categories
    }

    /// The open locations, in display order.
    pub fn locations(&self) -> &[LocationView] {
        &self.locations
    }

    /// The active plans, by category display order, plan display order, price, id.
    pub fn plans(&self) -> &[PlanView] {
        &self.plans
    }

    /// An active plan.
    pub fn plan(&self, id: &str) -> Option<&PlanView> {
        self.plan_index.get(id).map(|&i| &self.plans[i])
    }

    pub fn category_by_slug(&self, slug: &str) -> Option<&CategoryView> {
        self.categories.iter().find(|c| c.slug == slug)
    }

    /// An open location.
    pub fn location(&self, id: i32) -> Option<&LocationView> {
        self.locations.iter().find(|l| l.id == id)
    }

    /// The answer `key` made from this snapshot: made by `make` the first time, then shared
    /// until the snapshot is replaced. Two requests racing on a new key may both make it; the
    /// answers are identical, the first stored is kept.
    pub(crate) fn json<E>(
        &self,
        key: JsonKey,
        make: impl FnOnce() -> Result<CachedJson, E>,
    ) -> Result<Arc<CachedJson>, E> {
        let memo = || self.json.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = memo().get(&key) {
            return Ok(found.clone());
        }
        // Made outside the lock: serialising must not hold up other keys' readers.
        let made = Arc::new(make()?);
        Ok(memo().entry(key).or_insert(made).clone())
    }
}

/// The node's catalog cache. Cheap to clone (an `Arc`); lives in `AppState`.
#[derive(Clone)]
pub struct CatalogCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    generation: AtomicU64,
    listening: AtomicBool,
    current: RwLock<Option<Arc<Catalog>>>,
    /// Held by the one load in flight.
    loading: tokio::sync::Mutex<()>,
    /// `catalog_cache_requests_total{outcome="hit"}`, resolved on first use (after `serve` has
    /// installed the recorder).
    hits: OnceLock<metrics::Counter>,
}

impl Default for CatalogCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for CatalogCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogCache")
            .field("ttl", &self.inner.ttl)
            .field("generation", &self.generation())
            .field("listening", &self.is_listening())
            .finish_non_exhaustive()
    }
}

impl CatalogCache {
    /// An empty cache with the standard [`TTL`]; the first read loads it.
    pub fn new() -> Self {
        Self::with_ttl(TTL)
    }

    /// An empty cache whose snapshots live `ttl` at most (tests use a long one to watch the
    /// listener alone).
    pub fn with_ttl(ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                ttl,
                generation: AtomicU64::new(0),
                listening: AtomicBool::new(false),
                current: RwLock::new(None),
                loading: tokio::sync::Mutex::new(()),
                hits: OnceLock::new(),
            }),
        }
    }

    /// The current snapshot, loading a new one when the cached one is invalidated or too old.
    ///
    /// The hit is synchronous and the load is boxed: the load's state (a transaction and five
    /// queries) is kilobytes, and as an inline `.await` it made every caller's future that
    /// large, copied several times per request on the hot path (callgrind, `bench/run`).
    pub async fn get(&self, db: &PgPool) -> sqlx::Result<Arc<Catalog>> {
        match self.hit() {
            Some(catalog) => Ok(catalog),
            None => Box::pin(self.load_current(db)).await,
        }
    }

    /// The cached snapshot if it may still be served, counted as a hit.
    fn hit(&self) -> Option<Arc<Catalog>> {
        let catalog = self.fresh()?;
        // The handle is looked up once: a registry lookup per request cost more than the hit.
        let hits = self
            .inner
            .hits
            .get_or_init(|| metrics::counter!("catalog_cache_requests_total", "outcome" => "hit"));
        hits.increment(1);
        Some(catalog)
    }

    /// Loads a snapshot (single-flight) and makes it the current one.
    async fn load_current(&self, db: &PgPool) -> sqlx::Result<Arc<Catalog>> {
        let _loading = self.inner.loading.lock().await;
        // Another request may have loaded it while this one waited.
        if let Some(catalog) = self.hit() {
            return Ok(catalog);
        }
        metrics::counter!("catalog_cache_requests_total", "outcome" => "load").increment(1);
        let generation = self.inner.generation.load(Ordering::Acquire);
        let started = Instant::now();
        let catalog = Arc::new(load(db, generation, started).await?);
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(catalog.clone());
        Ok(catalog)
    }

    /// Drops the snapshot: the next read loads the catalog again. Call after committing a
    /// catalog change.
    pub fn invalidate(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// How many times the cache was invalidated.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Whether the listener task is subscribed to [`CHANNEL`] right now.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    fn fresh(&self) -> Option<Arc<Catalog>> {
        let current = self
            .inner
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        let current_generation =
            current.generation == self.inner.generation.load(Ordering::Acquire);
        (current_generation && current.loaded_at.elapsed() < self.inner.ttl).then_some(current)
    }

    /// Starts the task that invalidates the cache on every catalog notification, from any node.
    /// It holds one connection of `pool`, reconnects by itself, and ends when the pool closes
    /// (or when the returned handle is aborted).
    pub fn spawn_listener(&self, pool: PgPool) -> tokio::task::JoinHandle<()> {
        let cache = self.clone();
        tokio::spawn(async move { cache.listen(pool).await })
    }

    async fn listen(self, pool: PgPool) {
        const RETRY: Duration = Duration::from_secs(1);
        loop {
            let mut listener = match PgListener::connect_with(&pool).await {
                Ok(listener) => listener,
                Err(sqlx::Error::PoolClosed) => return,
                Err(err) => {
                    tracing::warn!("catalog listener cannot connect (retrying): {err}");
                    tokio::time::sleep(RETRY).await;
                    continue;
                }
            };
            if let Err(err) = listener.listen(CHANNEL).await {
                tracing::warn!("catalog listener cannot LISTEN (retrying): {err}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            self.inner.listening.store(true, Ordering::Release);
            // Whatever changed before the subscription went unheard.
            self.invalidate();
            tracing::debug!("catalog listener subscribed to {CHANNEL}");
            loop {
                match listener.try_recv().await {
                    Ok(Some(_)) => self.invalidate(),
                    // The connection dropped and was re-established (re-subscribed):
                    // notifications sent in between are lost.
                    Ok(None) => {
                        tracing::info!("catalog listener reconnected");
                        self.invalidate();
                    }
                    Err(sqlx::Error::PoolClosed) => {
                        self.inner.listening.store(false, Ordering::Release);
                        return;
                    }
                    Err(err) => {
                        self.inner.listening.store(false, Ordering::Release);
                        self.invalidate();
                        tracing::warn!("catalog listener lost its connection (retrying): {err}");
                        tokio::time::sleep(RETRY).await;
                        break;
                    }
                }
            }
        }
    }
}

/// Reads the catalog in one consistent, read-only transaction.
async fn load(db: &PgPool, generation: u64, loaded_at: Instant) -> sqlx::Result<Catalog> {
    let mut tx = db.begin().await?;
    timed(
        "catalog_cache.snapshot",
        sqlx::query("set transaction isolation level repeatable read, read only").execute(&mut *tx),
    )
    .await?;
    let category_rows = categories::list(&mut *tx).await?;
    let location_rows = locations::list_active(&mut *tx).await?;
    let plan_rows = plans::list_active(&mut *tx, None).await?;
    let ids: Vec<String> = plan_rows.iter().map(|p| p.id.clone()).collect();
    let feature_rows = plan_features::list_for_plans(&mut *tx, &ids).await?;
    let sold_in = locations::list_plan_location_ids(&mut *tx).await?;
    let offered = os_templates::list_offered(&mut *tx).await?;
    tx.commit().await?;
    let mut templates: HashMap<String, Vec<OsChoice>> = HashMap::new();
    for (plan_id, template) in &offered {
        templates
            .entry(plan_id.clone())
            .or_default()
            .push(OsChoice::from(template));
    }

    let categories: Vec<CategoryView> = category_rows
        .into_iter()
        .map(|c| CategoryView {
            id: c.id,
            slug: c.slug,
            name: c.name,
            description: c.description,
            display_order: c.display_order.unwrap_or(0),
        })
        .collect();
    let locations: Vec<LocationView> = location_rows
        .into_iter()
        .map(|l| LocationView {
            id: l.id,
            slug: l.slug,
            name: l.name,
            country_code: l.country_code,
            city: l.city,
            display_order: l.display_order.unwrap_or(0),
        })
        .collect();
    let mut features: HashMap<String, Vec<String>> = HashMap::new();
    for f in feature_rows {
        features
            .entry(f.plan_id.unwrap_or_default())
            .or_default()
            .push(f.feature);
    }
    let location_by_id: HashMap<i32, &LocationView> = locations.iter().map(|l| (l.id, l)).collect();
    let mut plan_locations: HashMap<String, Vec<LocationView>> = HashMap::new();
    for (plan_id, location_id) in sold_in {
        // Closed locations are not offered.
        if let Some(location) = location_by_id.get(&location_id) {
            plan_locations
                .entry(plan_id)
                .or_default()
                .push((*location).clone());
        }
    }
    let slug_of: HashMap<i32, &str> = categories.iter().map(|c| (c.id, c.slug.as_str())).collect();
    let mut plans = Vec::with_capacity(plan_rows.len());
    for p in plan_rows {
        // `list_active` joins the category, so it is there.
        let Some(category_id) = p.category_id else {
            continue;
        };
        let Some(category) = slug_of.get(&category_id) else {
            continue;
        };
        plans.push(PlanView {
            category_id,
            category: (*category).to_owned(),
            price_display: format_pkr(p.price_pkr),
            price_pkr: p.price_pkr,
            theme_color: p.theme_color.unwrap_or_else(|| "sky".to_owned()),
            features: features.remove(&p.id).unwrap_or_default(),
            locations: plan_locations.remove(&p.id).unwrap_or_default(),
            templates: templates.remove(&p.id).unwrap_or_default(),
            name: p.name,
            description: p.description,
            cpu: p.cpu,
            ram: p.ram,
            storage: p.storage,
            bandwidth: p.bandwidth,
            os: p.os,
            label: p.label,
            display_order: p.display_order,
            id: p.id,
        });
    }
    let plan_index = plans
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.clone(), i))
        .collect();
    Ok(Catalog {
        categories,
        locations,
        plans,
        plan_index,
        generation,
        loaded_at,
        json: Mutex::default(),
    })
}

/// How `/plans` is ordered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) enum Sort {
    /// Category display order, plan display order, price, id.
    #[default]
    Catalog,
    PriceAscending,
    PriceDescending,
}

/// What a plan listing is narrowed to and how it is ordered (`/plans` here, the storefront's
/// category pages too).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct PlanFilter {
    /// A category id.
    pub category: Option<i32>,
    /// An open location's id.
    pub location: Option<i32>,
    pub sort: Sort,
}

impl PlanFilter {
    /// Reads `category` (a slug), `location` (an open location's id) and `sort` (`price` /
    /// `-price`) from `pairs`, checked against `catalog`; an empty value means "any". Other
    /// names are ignored (the caller checks which it allows).
    pub(crate) fn parse(catalog: &Catalog, pairs: &[(String, String)]) -> AppResult<Self> {
        let mut filter = Self::default();
        for (name, value) in pairs {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            match name.as_str() {
                "category" => {
                    let found = catalog.category_by_slug(value).ok_or_else(|| {
                        let known: Vec<&str> = catalog
                            .categories()
                            .iter()
                            .map(|c| c.slug.as_str())
                            .collect();
                        AppError::bad_request(
                            "category",
                            format!("no category {value:?}; known: {}", known.join(", ")),
                        )
                    })?;
                    filter.category = Some(found.id);
                }
                "location" => {
                    let id: i32 = value.parse().map_err(|_| {
                        AppError::bad_request("location", "must be the numeric id of a location")
                    })?;
                    if catalog.location(id).is_none() {
                        return Err(AppError::bad_request(
                            "location",
                            format!("no open location has id {id}"),
                        ));
                    }
                    filter.location = Some(id);
                }
                "sort" => {
                    filter.sort = match value {
                        "price" => Sort::PriceAscending,
                        "-price" => Sort::PriceDescending,
                        _ => {
                            return Err(AppError::bad_request(
                                "sort",
                                "must be price (cheapest first) or -price (dearest first)",
                            ));
                        }
                    };
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    /// The plans of `catalog` that match, in the asked order.
    pub(crate) fn apply<'c>(&self, catalog: &'c Catalog) -> Vec<&'c PlanView> {
        let mut plans: Vec<&PlanView> = catalog
            .plans()
            .iter()
            .filter(|p| self.category.is_none_or(|id| p.category_id == id))
            .filter(|p| self.location.is_none_or(|id| p.is_sold_in(id)))
            .collect();
        // A stable sort keeps the catalog order among equal prices.
        match self.sort {
            Sort::Catalog => {}
            Sort::PriceAscending => plans.sort_by_key(|p| p.price_pkr),
            Sort::PriceDescending => plans.sort_by_key(|p| std::cmp::Reverse(p.price_pkr)),
        }
        plans
    }
}

/// Which answer of the catalog API a [`CachedJson`] is: the endpoint and what narrows it (a
/// filter checked against the snapshot, an existing plan's id), so a snapshot holds at most a
/// few dozen.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum JsonKey {
    Categories,
    Locations,
    Plans(PlanFilter),
    Plan(String),
}

/// A catalog answer serialised once per snapshot, with its strong ETag.
#[derive(Debug)]
pub(crate) struct CachedJson {
    pub(crate) body: axum::body::Bytes,
    pub(crate) etag: axum::http::HeaderValue,
}
