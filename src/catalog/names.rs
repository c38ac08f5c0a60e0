//! Plan and location names by id, for pages listing services and provisioning jobs (every plan
//! and location, sold or not: an old service keeps its plan's name).

use std::collections::BTreeMap;

use super::{locations, plans};
use crate::error::AppResult;
use crate::web::forms::Choice;

/// Plan and location names, looked up once per page.
pub struct Names {
    plans: BTreeMap<String, String>,
    locations: BTreeMap<i32, String>,
}

impl Names {
    pub async fn load(db: &sqlx::PgPool) -> AppResult<Self> {
        let plans = plans::list(db)
            .await?
            .into_iter()
            .map(|p| (p.id, p.name))
            .collect();
        let locations = locations::list(db)
            .await?
            .into_iter()
            .map(|l| (l.id, l.name))
            .collect();
        Ok(Self { plans, locations })
    }

    /// The plan's name, if the plan exists.
    pub fn plan_name(&self, id: &str) -> Option<String> {
        self.plans.get(id).cloned()
    }

    /// The location's name, if the location exists.
    pub fn location_name(&self, id: i32) -> Option<String> {
        self.locations.get(&id).cloned()
    }

    /// The plan's name for a page: its id when the plan is gone, "—" for none.
    pub fn plan(&self, id: Option<&str>) -> String {
        match id {
            Some(id) => self.plans.get(id).cloned().unwrap_or_else(|| id.to_owned()),
            None => "—".to_owned(),
        }
    }

    /// The location's name for a page, "—" when unknown.
    pub fn location(&self, id: Option<i32>) -> String {
        id.and_then(|id| self.locations.get(&id).cloned())
            .unwrap_or_else(|| "—".to_owned())
    }

    /// Every location, by name, for a select.
    pub fn location_options(&self, selected: Option<i32>) -> Vec<Choice> {
        let mut options: Vec<Choice> = self
            .locations
            .iter()
            .map(|(id, name)| Choice {
                value: id.to_string(),
                label: name.clone(),
                selected: Some(*id) == selected,
            })
            .collect();
        options.sort_by(|a, b| a.label.cmp(&b.label));
        options
    }

    /// Every plan, by name, for a select.
    pub fn plan_options(&self, selected: &str) -> Vec<Choice> {
        let mut options: Vec<Choice> = self
            .plans
            .iter()
            .map(|(id, name)| Choice {
                value: id.clone(),
                label: format!("{name} ({id})"),
                selected: id == selected,
            })
            .collect();
        options.sort_by(|a, b| a.label.cmp(&b.label));
        options
    }
}
