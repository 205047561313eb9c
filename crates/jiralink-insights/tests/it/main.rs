//! Integration tests of `jiralink-insights`: hand-computed metrics on a fixture store, and the
//! cross-check against plain SQL on a synced simulator site, and the HTML report's chart promises.

mod cross_check;
mod hand_computed;
mod report;
