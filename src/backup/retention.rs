//! Which backups to keep: the newest of each of the last N days and of each of the last M ISO
//! weeks that have one. Pure, so the rule is tested without files.

use std::collections::HashSet;

use chrono::{DateTime, Datelike, Utc};

/// How many daily and weekly backups the scheduled job keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// The newest backup of each of the last `keep_daily` days (UTC) that have one.
    pub keep_daily: usize,
    /// The newest backup of each of the last `keep_weekly` ISO weeks that have one.
    pub keep_weekly: usize,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            keep_daily: 7,
            keep_weekly: 4,
        }
    }
}

impl Retention {
    /// The backups (of `backups`, each taken at `taken(backup)`) that no rule keeps, newest
    /// first. A backup kept by either rule stays; the newest backup always stays.
    pub fn expired<'a, T>(
        &self,
        backups: &'a [T],
        taken: impl Fn(&T) -> DateTime<Utc>,
    ) -> Vec<&'a T> {
        let mut newest_first: Vec<&T> = backups.iter().collect();
        newest_first.sort_by_key(|backup| std::cmp::Reverse(taken(backup)));
        let mut days = HashSet::new();
        let mut weeks = HashSet::new();
        let mut expired = Vec::new();
        for (i, backup) in newest_first.into_iter().enumerate() {
            let at = taken(backup);
            let day = at.date_naive();
            let week = (at.iso_week().year(), at.iso_week().week());
            let mut keep = i == 0;
            if !days.contains(&day) && days.len() < self.keep_daily {
                days.insert(day);
                keep = true;
            }
            if !weeks.contains(&week) && weeks.len() < self.keep_weekly {
                weeks.insert(week);
                keep = true;
            }
            if !keep {
                expired.push(backup);
            }
        }
        expired
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, day, hour, 0, 0).unwrap()
    }

    fn kept(retention: Retention, backups: &[DateTime<Utc>]) -> Vec<u32> {
        let expired = retention.expired(backups, |t| *t);
        let mut kept: Vec<u32> = backups
            .iter()
            .filter(|b| !expired.contains(b))
            .map(|b| b.day())
            .collect();
        kept.sort();
        kept
    }

    #[test]
    fn a_month_of_daily_backups_keeps_the_last_week_and_the_newest_of_three_older_weeks() {
        // 1–30 January 2025; ISO weeks: 1 (…–5th), 2 (6–12), 3 (13–19), 4 (20–26), 5 (27–).
        let backups: Vec<_> = (1..=30).map(|day| at(day, 3)).collect();
        assert_eq!(
            kept(Retention::default(), &backups),
            vec![12, 19, 24, 25, 26, 27, 28, 29, 30]
        );
    }

    #[test]
    fn of_several_backups_in_a_day_only_the_newest_counts_as_that_days() {
        let backups = vec![at(10, 1), at(10, 9), at(10, 23), at(9, 3)];
        let retention = Retention {
            keep_daily: 2,
            keep_weekly: 0,
        };
        let expired = retention.expired(&backups, |t| *t);
        assert_eq!(expired, vec![&at(10, 9), &at(10, 1)]);
    }

    #[test]
    fn fewer_backups_than_the_rules_allow_are_all_kept() {
        let backups = vec![at(1, 3), at(2, 3), at(20, 3)];
        assert!(Retention::default().expired(&backups, |t| *t).is_empty());
        assert!(
            Retention::default()
                .expired(&[] as &[DateTime<Utc>], |t| *t)
                .is_empty()
        );
    }

    #[test]
    fn the_newest_backup_is_kept_whatever_the_rules() {
        let backups = vec![at(1, 3), at(2, 3)];
        let none = Retention {
            keep_daily: 0,
            keep_weekly: 0,
        };
        assert_eq!(none.expired(&backups, |t| *t), vec![&at(1, 3)]);
    }

    #[test]
    fn weekly_backups_reach_back_past_the_daily_window() {
        let backups: Vec<_> = (1..=30).map(|day| at(day, 3)).collect();
        let retention = Retention {
            keep_daily: 1,
            keep_weekly: 5,
        };
        assert_eq!(kept(retention, &backups), vec![5, 12, 19, 26, 30]);
    }
}
