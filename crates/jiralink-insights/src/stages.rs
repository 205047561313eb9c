//! Statuses to stages: by each status's category by default (To Do, In Progress, Done), with an
//! optional config file that names stages per status ("In Review" = waiting).

use std::collections::HashMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::load::{Category, Dataset};
use crate::InsightsError;

/// Where an item is in the flow. Active and waiting are both "in progress"; flow efficiency is
/// the share of active time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    ToDo,
    Active,
    Waiting,
    Done,
}

impl Stage {
    pub fn started(self) -> bool {
        matches!(self, Stage::Active | Stage::Waiting)
    }
}

impl std::str::FromStr for Stage {
    type Err = String;
    /// The names of the config file and of the web app's Stages page: `to_do`, `active`,
    /// `waiting`, `done`.
    fn from_str(s: &str) -> Result<Stage, String> {
        match s {
            "to_do" => Ok(Stage::ToDo),
            "active" => Ok(Stage::Active),
            "waiting" => Ok(Stage::Waiting),
            "done" => Ok(Stage::Done),
            _ => Err(format!(
                "'{s}' is not a stage: use to_do, active, waiting or done"
            )),
        }
    }
}

/// The insights config file (JSON):
/// `{"stages": {"In Review": "waiting"}, "bug_types": ["Bug"], "stale_days": 30}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Status name (case-insensitive) or status id to stage.
    pub stages: HashMap<String, Stage>,
    /// Issue types counted as bugs.
    pub bug_types: Vec<String>,
    /// Open issues not updated for this many days are stale.
    pub stale_days: i64,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            stages: HashMap::new(),
            bug_types: vec!["Bug".into()],
            stale_days: 30,
        }
    }
}

impl Config {
    pub fn read(path: &Path) -> Result<Config, InsightsError> {
        let err = |message: String| InsightsError::Config {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| {
            err(format!(
                "{e}; expected {{\"stages\": {{\"STATUS\": \"to_do|active|waiting|done\"}}, \"bug_types\": [..], \"stale_days\": N}}"
            ))
        })
    }

    /// Takes the stages saved in the store by the web app's Stages page (`(status, stage)`, as
    /// `jiralink_store::web` keeps them) when this config names none: a config file's stages
    /// win, as the command line does over the store. Returns whether the saved ones were taken;
    /// a row whose stage is not one is skipped.
    pub fn use_saved_stages(&mut self, saved: impl IntoIterator<Item = (String, String)>) -> bool {
        if !self.stages.is_empty() {
            return false;
        }
        self.stages = saved
            .into_iter()
            .filter_map(|(status, stage)| Some((status, stage.parse().ok()?)))
            .collect();
        !self.stages.is_empty()
    }

    pub fn is_bug(&self, issue_type: &str) -> bool {
        self.bug_types
            .iter()
            .any(|b| b.eq_ignore_ascii_case(issue_type))
    }
}

/// The stage of every status of `ds`, indexed like `ds.statuses`.
pub fn stage_table(ds: &Dataset, config: &Config) -> Vec<Stage> {
    let by_key: HashMap<String, Stage> = config
        .stages
        .iter()
        .map(|(k, v)| (k.to_lowercase(), *v))
        .collect();
    ds.statuses
        .iter()
        .map(|s| {
            s.id.as_deref()
                .and_then(|id| by_key.get(id))
                .or_else(|| by_key.get(&s.name.to_lowercase()))
                .copied()
                .unwrap_or(match s.category {
                    Category::ToDo => Stage::ToDo,
                    Category::InProgress => Stage::Active,
                    Category::Done => Stage::Done,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_stages_are_used_unless_the_config_names_some() {
        let saved = || {
            vec![
                ("In Review".to_owned(), "waiting".to_owned()),
                ("Odd".to_owned(), "later".to_owned()),
            ]
        };
        let mut c = Config::default();
        assert!(c.use_saved_stages(saved()));
        assert_eq!(c.stages.get("In Review"), Some(&Stage::Waiting));
        assert_eq!(c.stages.len(), 1, "an unknown stage is skipped");
        let mut c = Config::default();
        c.stages.insert("Blocked".into(), Stage::Waiting);
        assert!(!c.use_saved_stages(saved()), "the config file's stages win");
        assert_eq!(c.stages.len(), 1);
        assert_eq!("to_do".parse::<Stage>(), Ok(Stage::ToDo));
        assert!("later".parse::<Stage>().is_err());
    }
}
