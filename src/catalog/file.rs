//! The catalog file: categories, locations and plans as TOML, the format of
//! `nextgenrdp catalog import` / `export` and of the bundled default catalog.
//!
//! TOML over JSON: operators edit this file by hand, and TOML takes comments and reads well in
//! a diff. Import is an idempotent upsert in one transaction; a plan or location missing from
//! the file is deactivated, never deleted, because orders and services refer to it. Export
//! writes every row (inactive ones with `is_active = false`) in a fixed order, so
//! import → export → import → export gives identical files.

use std::collections::{BTreeMap, HashSet};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::{THEME_COLORS, categories, is_valid_slug, locations, plan_features, plans};

/// The catalog that ships with NextGenRDP, loaded into an empty database by `serve`.
pub const DEFAULT_CATALOG: &str = include_str!("../../catalog/default.toml");

/// A whole catalog.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CatalogFile {
    #[serde(default)]
    pub categories: Vec<CategoryEntry>,
    #[serde(default)]
    pub locations: Vec<LocationEntry>,
    #[serde(default)]
    pub plans: Vec<PlanEntry>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CategoryEntry {
    pub slug: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub display_order: i32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationEntry {
    pub slug: String,
    pub name: String,
    pub country_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub display_order: i32,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlanEntry {
    pub id: String,
    /// The slug of the plan's category.
    pub category: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub cpu: String,
    pub ram: String,
    pub storage: String,
    pub bandwidth: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<String>,
    pub price_pkr: i64,
    #[serde(default = "default_theme")]
    pub theme_color: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default = "yes")]
    pub is_active: bool,
    #[serde(default)]
    pub display_order: i32,
    /// Slugs of the locations the plan is sold in.
    #[serde(default)]
    pub locations: Vec<String>,
    #[serde(default)]
    pub features: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_theme() -> String {
    "sky".to_owned()
}

/// What an import changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    pub categories: usize,
    pub locations: usize,
    pub plans: usize,
    pub plans_deactivated: u64,
    pub locations_deactivated: u64,
}

impl std::fmt::Display for ImportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} categories, {} locations, {} plans imported; {} plans and {} locations deactivated",
            self.categories,
            self.locations,
            self.plans,
            self.plans_deactivated,
            self.locations_deactivated
        )
    }
}

impl CatalogFile {
    /// Parses TOML and checks every rule, naming the entry and field at fault.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let file: Self = toml::from_str(text).context("the catalog file is not valid")?;
        file.validate()?;
        Ok(file)
    }

    pub fn to_toml(&self) -> anyhow::Result<String> {
        Ok(toml::to_string_pretty(self)?)
    }

    /// Checks the rules the database would otherwise refuse one by one.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut categories = HashSet::new();
        for c in &self.categories {
            if !is_valid_slug(&c.slug) {
                bail!(
                    "category {:?}: slug must be [a-z0-9-], 3 to 50 characters",
                    c.slug
                );
            }
            non_blank(&c.name, || format!("category {:?}: name", c.slug))?;
            if !categories.insert(c.slug.as_str()) {
                bail!("category {:?} appears twice", c.slug);
            }
        }
        let mut locations = HashSet::new();
        for l in &self.locations {
            if !is_valid_slug(&l.slug) {
                bail!(
                    "location {:?}: slug must be [a-z0-9-], 3 to 50 characters",
                    l.slug
                );
            }
            non_blank(&l.name, || format!("location {:?}: name", l.slug))?;
            if l.country_code.len() != 2 || !l.country_code.bytes().all(|b| b.is_ascii_uppercase())
            {
                bail!(
                    "location {:?}: country_code must be two capital letters like PK",
                    l.slug
                );
            }
            if !locations.insert(l.slug.as_str()) {
                bail!("location {:?} appears twice", l.slug);
            }
        }
        let mut plans = HashSet::new();
        for p in &self.plans {
            if !is_valid_slug(&p.id) {
                bail!("plan {:?}: id must be [a-z0-9-], 3 to 50 characters", p.id);
            }
            if !plans.insert(p.id.as_str()) {
                bail!("plan {:?} appears twice", p.id);
            }
            if !categories.contains(p.category.as_str()) {
                bail!(
                    "plan {:?}: category {:?} is not in the file",
                    p.id,
                    p.category
                );
            }
            for (field, value) in [
                ("name", &p.name),
                ("cpu", &p.cpu),
                ("ram", &p.ram),
                ("storage", &p.storage),
                ("bandwidth", &p.bandwidth),
            ] {
                non_blank(value, || format!("plan {:?}: {field}", p.id))?;
            }
            if !(0..=i64::from(i32::MAX)).contains(&p.price_pkr) {
                bail!(
                    "plan {:?}: price_pkr must be a whole number of rupees, 0 or more",
                    p.id
                );
            }
            if !THEME_COLORS.contains(&p.theme_color.as_str()) {
                bail!(
                    "plan {:?}: theme_color {:?} is not one of {}",
                    p.id,
                    p.theme_color,
                    THEME_COLORS.join(", ")
                );
            }
            let mut seen = HashSet::new();
            for slug in &p.locations {
                if !locations.contains(slug.as_str()) {
                    bail!("plan {:?}: location {slug:?} is not in the file", p.id);
                }
                if !seen.insert(slug) {
                    bail!("plan {:?}: location {slug:?} is listed twice", p.id);
                }
            }
            for feature in &p.features {
                non_blank(feature, || format!("plan {:?}: a feature", p.id))?;
            }
        }
        Ok(())
    }

    /// Writes the catalog into the database in one transaction.
    pub async fn import(&self, pool: &PgPool) -> anyhow::Result<ImportSummary> {
        self.validate()?;
        let mut tx = pool.begin().await?;
        let mut category_ids = BTreeMap::new();
        for c in &self.categories {
            let row = categories::upsert_by_slug(
                &mut *tx,
                &categories::CategoryFields {
                    name: &c.name,
                    slug: &c.slug,
                    description: c.description.as_deref(),
                    display_order: c.display_order,
                },
            )
            .await
            .with_context(|| format!("importing category {:?}", c.slug))?;
            category_ids.insert(c.slug.as_str(), row.id);
        }
        let mut location_ids = BTreeMap::new();
        for l in &self.locations {
            let row = locations::upsert_by_slug(
                &mut *tx,
                &locations::LocationFields {
                    slug: &l.slug,
                    name: &l.name,
                    country_code: &l.country_code,
                    city: l.city.as_deref(),
                    is_active: l.is_active,
                    display_order: l.display_order,
                },
            )
            .await
            .with_context(|| format!("importing location {:?}", l.slug))?;
            location_ids.insert(l.slug.as_str(), row.id);
        }
        for p in &self.plans {
            plans::upsert(
                &mut *tx,
                &plans::PlanFields {
                    id: &p.id,
                    category_id: category_ids[p.category.as_str()],
                    name: &p.name,
                    description: p.description.as_deref(),
                    cpu: &p.cpu,
                    ram: &p.ram,
                    storage: &p.storage,
                    bandwidth: &p.bandwidth,
                    os: p.os.as_deref(),
                    price_pkr: p.price_pkr as i32,
                    is_active: p.is_active,
                    theme_color: &p.theme_color,
                    label: p.label.as_deref(),
                    display_order: p.display_order,
                },
            )
            .await
            .with_context(|| format!("importing plan {:?}", p.id))?;
            plan_features::replace_for_plan(&mut tx, &p.id, &p.features).await?;
            let ids: Vec<i32> = p
                .locations
                .iter()
                .map(|s| location_ids[s.as_str()])
                .collect();
            locations::replace_for_plan(&mut tx, &p.id, &ids).await?;
        }
        let plan_ids: Vec<String> = self.plans.iter().map(|p| p.id.clone()).collect();
        let plans_deactivated = plans::deactivate_except(&mut *tx, &plan_ids).await?;
        let location_slugs: Vec<String> = self.locations.iter().map(|l| l.slug.clone()).collect();
        let locations_deactivated = locations::deactivate_except(&mut *tx, &location_slugs).await?;
        tx.commit().await.context("committing the catalog import")?;
        Ok(ImportSummary {
            categories: self.categories.len(),
            locations: self.locations.len(),
            plans: self.plans.len(),
            plans_deactivated,
            locations_deactivated,
        })
    }

    /// Reads the whole catalog from the database.
    pub async fn export(pool: &PgPool) -> anyhow::Result<Self> {
        let mut tx = pool.begin().await?;
        let category_rows = categories::list(&mut *tx).await?;
        let slug_of: BTreeMap<i32, String> = category_rows
            .iter()
            .map(|c| (c.id, c.slug.clone()))
            .collect();
        let location_rows = locations::list(&mut *tx).await?;
        let plan_rows = plans::list(&mut *tx).await?;
        let ids: Vec<String> = plan_rows.iter().map(|p| p.id.clone()).collect();
        let mut features: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in plan_features::list_for_plans(&mut *tx, &ids).await? {
            features
                .entry(f.plan_id.unwrap_or_default())
                .or_default()
                .push(f.feature);
        }
        let mut sold_in: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (plan, location) in locations::list_plan_location_slugs(&mut *tx).await? {
            sold_in.entry(plan).or_default().push(location);
        }
        tx.commit().await?;

        let mut plans_out = Vec::with_capacity(plan_rows.len());
        for p in plan_rows {
            let category = p
                .category_id
                .and_then(|id| slug_of.get(&id).cloned())
                .with_context(|| format!("plan {:?} has no category", p.id))?;
            plans_out.push(PlanEntry {
                category,
                name: p.name,
                description: p.description,
                cpu: p.cpu,
                ram: p.ram,
                storage: p.storage,
                bandwidth: p.bandwidth,
                os: p.os,
                price_pkr: i64::from(p.price_pkr),
                theme_color: p.theme_color.unwrap_or_else(default_theme),
                label: p.label,
                is_active: p.is_active.unwrap_or(true),
                display_order: p.display_order,
                locations: sold_in.remove(&p.id).unwrap_or_default(),
                features: features.remove(&p.id).unwrap_or_default(),
                id: p.id,
            });
        }
        Ok(Self {
            categories: category_rows
                .into_iter()
                .map(|c| CategoryEntry {
                    slug: c.slug,
                    name: c.name,
                    description: c.description,
                    display_order: c.display_order.unwrap_or(0),
                })
                .collect(),
            locations: location_rows
                .into_iter()
                .map(|l| LocationEntry {
                    slug: l.slug,
                    name: l.name,
                    country_code: l.country_code,
                    city: l.city,
                    is_active: l.is_active.unwrap_or(true),
                    display_order: l.display_order.unwrap_or(0),
                })
                .collect(),
            plans: plans_out,
        })
    }
}

fn non_blank(value: &str, what: impl FnOnce() -> String) -> anyhow::Result<()> {
    if value.trim().is_empty() {
        bail!("{} must not be blank", what());
    }
    Ok(())
}

/// Loads the bundled catalog when the database has no plans at all; returns whether it did.
pub async fn seed_if_empty(pool: &PgPool) -> anyhow::Result<bool> {
    if plans::count(pool).await? > 0 {
        return Ok(false);
    }
    let summary = CatalogFile::parse(DEFAULT_CATALOG)?.import(pool).await?;
    tracing::info!("loaded the default catalog: {summary}");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_catalog_is_valid_and_big_enough() {
        let file = CatalogFile::parse(DEFAULT_CATALOG).unwrap();
        assert!(file.plans.len() >= 8);
        assert!(file.locations.len() >= 4);
        let slugs: Vec<&str> = file.categories.iter().map(|c| c.slug.as_str()).collect();
        assert!(slugs.contains(&"rdp") && slugs.contains(&"vps"));
    }

    fn one_plan(edit: impl FnOnce(&mut PlanEntry)) -> anyhow::Result<CatalogFile> {
        let mut file = CatalogFile::parse(DEFAULT_CATALOG).unwrap();
        file.plans.truncate(1);
        edit(&mut file.plans[0]);
        let text = file.to_toml().unwrap();
        CatalogFile::parse(&text)
    }

    #[test]
    fn a_negative_price_is_refused_naming_the_plan() {
        let err = one_plan(|p| p.price_pkr = -1).unwrap_err();
        assert!(err.to_string().contains("price_pkr"), "{err}");
    }

    #[test]
    fn an_unknown_location_or_colour_is_refused() {
        let err = one_plan(|p| p.locations.push("moon-base".into())).unwrap_err();
        assert!(err.to_string().contains("moon-base"), "{err}");
        let err = one_plan(|p| p.theme_color = "chartreuse".into()).unwrap_err();
        assert!(err.to_string().contains("theme_color"), "{err}");
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err =
            CatalogFile::parse("[[categories]]\nslug='rdp'\nname='RDP'\ncolour='x'\n").unwrap_err();
        assert!(format!("{err:#}").contains("colour"), "{err:#}");
    }
}
