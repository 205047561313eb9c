//! Integration tests of `jiralink-insights`: hand-computed metrics on a fixture store, and the
//! cross-check against plain SQL on a synced simulator site.

mod cross_check;
mod hand_computed;
