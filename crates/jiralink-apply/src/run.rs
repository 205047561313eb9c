//! Acting on the plan: bulk creates (50 per request), then each record's updates, transition,
//! comments, worklogs and links, concurrently within the client's pacing. Every write goes
//! through `Runner::write`: recorded in the ledger before it is sent, its outcome after; an
//! ambiguous outcome is reconciled (what this account wrote is searched for by its origin
//! property and adopted) before the write is tried again. What a write created is linked (its
//! external id to Jira's id) before its outcome is recorded: a run killed between the two leaves
//! a pending row that the next run reconciles, never an `ok` row without its link (which the next
//! run would take for a record never created).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

use futures_util::StreamExt;
use jiralink_api::write::{is_ambiguous, CreateIssue, CreatedIssue, EntityProperty, NewWorklog};
use jiralink_api::Client;
use jiralink_store::ledger::{Ledger, Link, WriteEntry, WriteRow};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::plan::{Plan, Spec};
use crate::record::Record;
use crate::sprint::{move_issues, MOVE_BATCH};
use crate::workflow::{explore, steps_of, Graph, Step};
use crate::{
    jira_message, markup, ApplyError, Options, Origin, Outcome, RecordReport, ORIGIN_PROPERTY,
};

/// How many times an ambiguous write is reconciled and tried again before the record fails.
const MAX_TRIES: usize = 4;

/// The most transitions taken to reach one record's status.
const MAX_STEPS: usize = 10;

pub(crate) struct Runner<'a> {
    pub client: &'a Client,
    pub opts: &'a Options<'a>,
    ledger: RefCell<&'a mut dyn Ledger>,
    /// Writes left `pending` or `ambiguous` by earlier runs, by external id.
    pending: HashMap<String, Vec<WriteRow>>,
    /// Records found in Jira by their origin property when the ledger had lost them.
    recovered: HashMap<String, Link>,
    /// Children already linked: (kind, key) → base.
    children: HashMap<(String, String), Value>,
    myself: RefCell<Option<String>>,
    /// The account as changelogs name it (Cloud's accountId, Data Center's user key), for the
    /// ledger rows that `apply_changes` matches to the synced history.
    author: RefCell<Option<String>>,
    /// The workflows' transitions seen so far.
    graph: RefCell<Graph>,
    /// Status name (lower case) → status category key, read once.
    categories: RefCell<Option<HashMap<String, String>>>,
    /// Email address or username → account, for transition screens' user fields.
    users: RefCell<HashMap<String, Option<String>>>,
    writes: Cell<u64>,
    adopted: Cell<u64>,
}

/// Seconds of a worklog's `time_spent`: a number, or Jira's duration text (`1h 30m`, `2d`) in
/// Jira's default 8-hour days and 5-day weeks.
pub(crate) fn seconds(v: &Value) -> Option<u64> {
    if let Some(n) = v.as_u64() {
        return (n > 0).then_some(n);
    }
    let s = v.as_str()?;
    let mut total = 0u64;
    for part in s.split_whitespace() {
        let split = part.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (n, unit) = part.split_at(split);
        let n: f64 = n.parse().ok()?;
        let mult = match unit {
            "w" => 5.0 * 8.0 * 3600.0,
            "d" => 8.0 * 3600.0,
            "h" => 3600.0,
            "m" => 60.0,
            _ => return None,
        };
        total += (n * mult) as u64;
    }
    (total > 0).then_some(total)
}

fn child_key(record: &str, child: &str) -> String {
    format!("{record}/{child}")
}

impl<'a> Runner<'a> {
    pub fn new(client: &'a Client, ledger: &'a mut dyn Ledger, opts: &'a Options<'a>) -> Self {
        Runner {
            client,
            opts,
            ledger: RefCell::new(ledger),
            pending: HashMap::new(),
            recovered: HashMap::new(),
            children: HashMap::new(),
            myself: RefCell::new(None),
            author: RefCell::new(None),
            graph: RefCell::new(Graph::default()),
            categories: RefCell::new(None),
            users: RefCell::new(HashMap::new()),
            writes: Cell::new(0),
            adopted: Cell::new(0),
        }
    }

    pub fn link_of(&self, kind: &str, external_id: &str) -> Result<Option<Link>, ApplyError> {
        let found = self.ledger.borrow().link(kind, external_id)?;
        if found.is_none() && kind == "issue" {
            // A dry run keeps what it recovered in memory only.
            return Ok(self.recovered.get(external_id).cloned());
        }
        Ok(found)
    }

    /// A store that lost its ledger (deleted, or a new one) would create every record again:
    /// when the ledger links no issue at all, the issues this account reported in the file's
    /// projects are read with their `jiralink.origin` property, and the records found there are
    /// linked to them (an `adopt` row each) instead of created. Their comments and worklogs are
    /// then searched for by their own origin before any is added.
    pub async fn recover_lost_ledger(
        &mut self,
        records: &[(usize, Record)],
    ) -> Result<(), ApplyError> {
        if records.is_empty() || !self.ledger.borrow().links("issue")?.is_empty() {
            return Ok(());
        }
        let wanted: HashSet<&str> = records
            .iter()
            .map(|(_, r)| r.external_id.as_str())
            .collect();
        let mut projects: Vec<&str> = records.iter().map(|(_, r)| r.project.as_str()).collect();
        projects.sort_unstable();
        projects.dedup();
        for project in projects.into_iter().filter(|p| !p.is_empty()) {
            let jql = format!(
                "project = \"{}\" AND reporter = currentUser()",
                project.replace('"', "")
            );
            // An unknown project is the plan's to report.
            let Ok(issues) = self
                .client
                .search_all(&jql, &["summary"], &[ORIGIN_PROPERTY])
                .await
            else {
                continue;
            };
            for i in issues {
                let (Some(origin), Some(key)) =
                    (i.property::<Origin>(ORIGIN_PROPERTY), i.key.clone())
                else {
                    continue;
                };
                let eid = origin.external_id.as_str();
                if !wanted.contains(eid) || self.recovered.contains_key(eid) {
                    continue;
                }
                let link = Link {
                    jira_id: i.id.0.clone(),
                    issue_key: Some(key),
                    base: Value::Object(Map::new()),
                };
                if !self.opts.dry_run {
                    let mut e = self.entry(eid, "adopt");
                    e.jira_id = Some(link.jira_id.clone());
                    let seq = self.intend(&e)?;
                    self.ledger.borrow_mut().set_link("issue", eid, &link)?;
                    self.ledger.borrow_mut().outcome(
                        seq,
                        "adopted",
                        Some(&link.jira_id),
                        None,
                        None,
                    )?;
                    self.adopted.set(self.adopted.get() + 1);
                }
                self.recovered.insert(eid.to_owned(), link);
            }
        }
        if !self.recovered.is_empty() {
            tracing::info!(
                count = self.recovered.len(),
                "the ledger had no issue: records found in Jira by their origin property"
            );
        }
        Ok(())
    }

    pub fn has_child(&self, kind: &str, record: &str, child: &str) -> bool {
        self.children
            .contains_key(&(kind.to_owned(), child_key(record, child)))
    }

    pub fn child_base(&self, kind: &str, record: &str, child: &str) -> Option<Value> {
        self.children
            .get(&(kind.to_owned(), child_key(record, child)))
            .cloned()
    }

    /// Loads the children linked so far, and settles what earlier runs left pending: creates
    /// are searched for by their origin property and adopted; other writes are re-planned from
    /// Jira's live values, so they are closed as `unknown`.
    pub async fn reconcile_pending(&mut self) -> Result<(), ApplyError> {
        for kind in ["comment", "worklog", "link", "remote_link"] {
            for (k, l) in self.ledger.borrow().links(kind)? {
                self.children.insert((kind.to_owned(), k), l.base);
            }
        }
        let rows = self.ledger.borrow().pending()?;
        if !self.opts.dry_run {
            // A killed run's last requests may still be running at Jira: let them land first.
            let newest = rows
                .iter()
                .filter_map(|r| chrono::DateTime::parse_from_rfc3339(&r.at).ok())
                .max()
                .map(|t| t.with_timezone(&chrono::Utc));
            if let Some(t) = newest {
                self.wait_since(t).await;
            }
        }
        let mut creates = Vec::new();
        for row in rows {
            match row.entry.action.as_str() {
                "create" => creates.push(row),
                // Already linked (adopted by a run that died before closing this row).
                kind @ ("comment" | "worklog")
                    if self
                        .children
                        .contains_key(&(kind.to_owned(), row.entry.external_id.clone()))
                        && !self.opts.dry_run =>
                {
                    self.ledger
                        .borrow_mut()
                        .outcome(row.seq, "superseded", None, None, None)?
                }
                "comment" | "worklog" => self
                    .pending
                    .entry(row.entry.external_id.clone())
                    .or_default()
                    .push(row),
                _ if !self.opts.dry_run => self
                    .ledger
                    .borrow_mut()
                    .outcome(row.seq, "unknown", None, None, None)?,
                _ => {}
            }
        }
        if creates.is_empty() || self.opts.dry_run {
            return Ok(());
        }
        let since = creates
            .iter()
            .filter_map(|r| chrono::DateTime::parse_from_rfc3339(&r.at).ok())
            .min()
            .map(|t| t.with_timezone(&chrono::Utc));
        // A killed run's bulk create may still be landing, one issue at a time: search again
        // after another wait while creates are missing and the last search found more than the
        // one before it (bounded), so that nothing that lands late is created a second time.
        let mut found = self.find_created(since).await?;
        for _ in 0..MAX_TRIES {
            let missing = creates
                .iter()
                .any(|r| !found.contains_key(&r.entry.external_id));
            if !missing {
                break;
            }
            self.wait_since(chrono::Utc::now()).await;
            let again = self.find_created(since).await?;
            let grew = again.len() > found.len();
            found = again;
            if !grew {
                break;
            }
        }
        for row in creates {
            let eid = &row.entry.external_id;
            match found.get(eid) {
                Some((id, key)) => {
                    self.adopt_issue(eid, id, key, &Map::new())?;
                    self.ledger
                        .borrow_mut()
                        .outcome(row.seq, "adopted", Some(id), None, None)?;
                }
                None => {
                    self.ledger
                        .borrow_mut()
                        .outcome(row.seq, "not_applied", None, None, None)?
                }
            }
        }
        Ok(())
    }

    /// Waits until `reconcile_after` has passed since `t`: a write whose answer was lost (or whose
    /// sender died) may still be running at Jira, and a search before it lands would miss it.
    async fn wait_since(&self, t: chrono::DateTime<chrono::Utc>) {
        let elapsed = (chrono::Utc::now() - t).to_std().unwrap_or_default();
        if let Some(left) = self.opts.reconcile_after.checked_sub(elapsed) {
            tokio::time::sleep(left).await;
        }
    }

    fn entry(&self, external_id: &str, action: &str) -> WriteEntry {
        WriteEntry {
            run_id: self.opts.run_id.clone(),
            credential: self.opts.credential.clone(),
            actor: self.opts.actor.clone(),
            external_id: external_id.to_owned(),
            action: action.to_owned(),
            account_id: self.author.borrow().clone(),
            ..WriteEntry::default()
        }
    }

    fn intend(&self, e: &WriteEntry) -> Result<i64, ApplyError> {
        Ok(self.ledger.borrow_mut().intend(e)?)
    }

    fn settle(
        &self,
        seqs: &[i64],
        result: Result<Option<&str>, &jiralink_api::Error>,
        t0: Instant,
    ) -> Result<(), ApplyError> {
        let ms = Some(t0.elapsed().as_millis() as i64);
        let mut l = self.ledger.borrow_mut();
        for seq in seqs {
            match result {
                Ok(id) => l.outcome(*seq, "ok", id, None, ms)?,
                Err(e) if is_ambiguous(e) => {
                    l.outcome(*seq, "ambiguous", None, Some(&jira_message(e)), ms)?
                }
                Err(e) => l.outcome(*seq, "failed", None, Some(&jira_message(e)), ms)?,
            }
        }
        Ok(())
    }

    /// The ledger entry of a create, with the summary it is sent with.
    fn create_entry(&self, eid: &str, create: &Option<CreateIssue>) -> WriteEntry {
        let mut e = self.entry(eid, "create");
        e.after = create
            .as_ref()
            .and_then(|c| c.fields.get("summary"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        e
    }

    /// An issue Jira created for a record: linked to it in the ledger, and the plan's issue.
    fn created(&self, eid: &str, plan: &mut Plan, c: &CreatedIssue) -> Result<(), ApplyError> {
        self.adopt_issue(eid, c.id.text(), &c.key, &plan.base)?;
        plan.issue = Some((c.id.0.clone(), c.key.clone()));
        Ok(())
    }

    fn adopt_issue(
        &self,
        eid: &str,
        id: &str,
        key: &str,
        base: &Map<String, Value>,
    ) -> Result<(), ApplyError> {
        self.ledger.borrow_mut().set_link(
            "issue",
            eid,
            &Link {
                jira_id: id.to_owned(),
                issue_key: Some(key.to_owned()),
                base: Value::Object(base.clone()),
            },
        )?;
        Ok(())
    }

    async fn myself(&self) -> Result<String, ApplyError> {
        if let Some(m) = self.myself.borrow().clone() {
            return Ok(m);
        }
        let m = self.client.myself_id().await?;
        *self.myself.borrow_mut() = Some(m.clone());
        Ok(m)
    }

    /// Issues this account created since `since` (a minute of slack; at most the last day when
    /// unknown), by the external id of their origin property.
    async fn find_created(
        &self,
        since: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<HashMap<String, (String, String)>, ApplyError> {
        let minutes = since
            .map(|t| (chrono::Utc::now() - t).num_minutes() + 2)
            .unwrap_or(24 * 60)
            .max(2);
        let jql = format!("reporter = currentUser() AND created >= -{minutes}m");
        let issues = self
            .client
            .search_all(&jql, &["summary"], &[ORIGIN_PROPERTY])
            .await?;
        Ok(issues
            .iter()
            .filter_map(|i| {
                let origin = i.property::<Origin>(ORIGIN_PROPERTY)?;
                Some((origin.external_id, (i.id.0.clone(), i.key.clone()?)))
            })
            .collect())
    }

    /// Creates the planned issues, 50 per `issue/bulk`; records whose parent is another record
    /// of the file wait for it. Returns the failures by plan index.
    async fn create_all(
        &self,
        records: &[(usize, Record)],
        plans: &mut [Plan],
        failures: &mut HashMap<usize, Vec<String>>,
        done: &dyn Fn(usize),
    ) -> Result<(), ApplyError> {
        let mut waiting: Vec<usize> = (0..plans.len())
            .filter(|i| plans[*i].create.is_some() && plans[*i].problems.is_empty())
            .collect();
        while !waiting.is_empty() {
            let (ready, later): (Vec<usize>, Vec<usize>) =
                waiting.iter().partition(|i| match &plans[**i].parent_ref {
                    None => true,
                    Some(p) => !waiting.iter().any(|j| records[*j].1.external_id == *p),
                });
            if ready.is_empty() {
                for i in later {
                    failures
                        .entry(i)
                        .or_default()
                        .push("the parent chain of this record loops back to itself".into());
                }
                break;
            }
            for i in &ready {
                if let Some(pref) = plans[*i].parent_ref.clone() {
                    match self.link_of("issue", &pref)? {
                        Some(l) => {
                            if let Some(c) = plans[*i].create.as_mut() {
                                c.fields.insert("parent".into(), json!({"id": l.jira_id}));
                            }
                        }
                        None => failures.entry(*i).or_default().push(format!(
                            "the parent record {pref} was not created, so this one cannot be"
                        )),
                    }
                }
            }
            let ready: Vec<usize> = ready
                .into_iter()
                .filter(|i| !failures.contains_key(i))
                .collect();
            self.create_wave(records, plans, &ready, failures).await?;
            done(ready.len());
            waiting = later;
        }
        Ok(())
    }

    async fn create_wave(
        &self,
        records: &[(usize, Record)],
        plans: &mut [Plan],
        wave: &[usize],
        failures: &mut HashMap<usize, Vec<String>>,
    ) -> Result<(), ApplyError> {
        let mut todo: Vec<usize> = wave.to_vec();
        for attempt in 0..MAX_TRIES {
            if todo.is_empty() {
                break;
            }
            // Creates whose answer was lost, with their ledger row.
            let mut unsure: Vec<(usize, i64)> = Vec::new();
            let since = chrono::Utc::now();
            // Every row is in the ledger before the first request leaves; then the bulk
            // requests go `concurrency` at a time, within the client's pacing.
            let mut prepared = Vec::new();
            for chunk in todo.chunks(50) {
                let mut seqs = Vec::new();
                for i in chunk {
                    let e = self.create_entry(&records[*i].1.external_id, &plans[*i].create);
                    seqs.push(self.intend(&e)?);
                }
                let bodies: Vec<_> = chunk
                    .iter()
                    .filter_map(|i| plans[*i].create.clone())
                    .collect();
                prepared.push((chunk.to_vec(), seqs, bodies));
            }
            let sent: Vec<_> = futures_util::stream::iter(prepared.into_iter().map(
                |(chunk, seqs, bodies)| async move {
                    let t0 = Instant::now();
                    let r = self.client.create_issues(&bodies).await;
                    (chunk, seqs, t0, r)
                },
            ))
            .buffer_unordered(self.opts.concurrency.max(1))
            .collect()
            .await;
            self.writes.set(self.writes.get() + sent.len() as u64);
            for (chunk, seqs, t0, result) in sent {
                let chunk = &chunk[..];
                match result {
                    Ok(out) => {
                        let failed: HashMap<usize, String> = out
                            .errors
                            .iter()
                            .map(|e| {
                                let j = e.jira();
                                let mut parts = j.messages.clone();
                                parts.extend(j.errors.iter().map(|(k, v)| format!("{k}: {v}")));
                                (
                                    e.failed_element_number,
                                    format!("Jira answered {}: {}", e.status, parts.join("; ")),
                                )
                            })
                            .collect();
                        let mut created = out.issues.iter();
                        let ms = Some(t0.elapsed().as_millis() as i64);
                        for (n, i) in chunk.iter().enumerate() {
                            let seq = seqs[n];
                            if let Some(msg) = failed.get(&n) {
                                self.ledger.borrow_mut().outcome(
                                    seq,
                                    "failed",
                                    None,
                                    Some(msg),
                                    ms,
                                )?;
                                failures.entry(*i).or_default().push(msg.clone());
                                continue;
                            }
                            let Some(c) = created.next() else {
                                unsure.push((*i, seq));
                                continue;
                            };
                            self.created(&records[*i].1.external_id, &mut plans[*i], c)?;
                            self.ledger.borrow_mut().outcome(
                                seq,
                                "ok",
                                Some(c.id.text()),
                                None,
                                ms,
                            )?;
                        }
                    }
                    Err(e) if is_ambiguous(&e) => {
                        self.settle(&seqs, Err(&e), t0)?;
                        unsure.extend(chunk.iter().copied().zip(seqs.iter().copied()));
                    }
                    Err(e) => {
                        // Every element refused: each is created on its own (`POST issue`), so
                        // that each gets Jira's own message.
                        self.settle(&seqs, Err(&e), t0)?;
                        for i in chunk {
                            let Some(body) = plans[*i].create.clone() else {
                                continue;
                            };
                            let e =
                                self.create_entry(&records[*i].1.external_id, &plans[*i].create);
                            let seq = self.intend(&e)?;
                            let t0 = Instant::now();
                            self.writes.set(self.writes.get() + 1);
                            match self.client.create_issue(&body).await {
                                Ok(c) => {
                                    self.created(&records[*i].1.external_id, &mut plans[*i], &c)?;
                                    self.settle(&[seq], Ok(Some(c.id.text())), t0)?;
                                }
                                Err(e) if is_ambiguous(&e) => {
                                    self.settle(&[seq], Err(&e), t0)?;
                                    unsure.push((*i, seq));
                                }
                                Err(e) => {
                                    self.settle(&[seq], Err(&e), t0)?;
                                    failures.entry(*i).or_default().push(jira_message(&e));
                                }
                            }
                        }
                    }
                }
            }
            if unsure.is_empty() {
                break;
            }
            tracing::info!(
                count = unsure.len(),
                attempt,
                "creates with an unknown outcome: searching for them before trying again"
            );
            self.wait_since(since).await;
            let found = self.find_created(Some(since)).await?;
            todo.clear();
            for (i, seq) in unsure {
                let eid = &records[i].1.external_id;
                match found.get(eid) {
                    Some((id, key)) => {
                        // The lost answer's write was applied: its row says so.
                        self.adopt_issue(eid, id, key, &plans[i].base)?;
                        self.ledger
                            .borrow_mut()
                            .outcome(seq, "adopted", Some(id), None, None)?;
                        self.adopted.set(self.adopted.get() + 1);
                        plans[i].issue = Some((id.clone(), key.clone()));
                    }
                    None if attempt + 1 == MAX_TRIES => {
                        self.ledger
                            .borrow_mut()
                            .outcome(seq, "not_applied", None, None, None)?;
                        failures.entry(i).or_default().push(
                            "Jira's answer to the create was lost several times, and the issue was not found: try again later".into(),
                        );
                    }
                    None => {
                        self.ledger
                            .borrow_mut()
                            .outcome(seq, "not_applied", None, None, None)?;
                        todo.push(i);
                    }
                }
            }
        }
        Ok(())
    }

    /// Finds a comment or worklog this account wrote for `key` (by its origin property).
    async fn find_child(
        &self,
        issue: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<String>, ApplyError> {
        let me = self.myself().await?;
        let mut list = self.client.children(issue, kind).await?;
        list.retain(|c| c.author.as_deref() == Some(me.as_str()));
        list.reverse();
        for c in list {
            let entity = if kind == "comment" {
                format!("comment/{}", c.id)
            } else {
                format!("issue/{issue}/worklog/{}", c.id)
            };
            let prop = self.client.property(&entity, ORIGIN_PROPERTY).await?;
            let origin = prop.and_then(|p| Origin::deserialize(&p).ok());
            if origin.is_some_and(|o| o.external_id == key) {
                return Ok(Some(c.id));
            }
        }
        Ok(None)
    }

    /// Adds a comment or worklog once: reconciles an earlier ambiguous attempt first, and after
    /// an ambiguous answer looks for it before sending it again.
    async fn add_child(
        &self,
        record: &str,
        issue: &str,
        kind: &str,
        key: &str,
        body: Value,
        summary: String,
    ) -> Result<Result<(), String>, ApplyError> {
        // A record recovered from Jira may have its children there already.
        let mut unsure = self.pending.contains_key(key) || self.recovered.contains_key(record);
        // This run's attempt whose answer was lost.
        let mut lost: Option<i64> = None;
        let mut lost_at: Option<chrono::DateTime<chrono::Utc>> = None;
        for _ in 0..MAX_TRIES {
            if unsure {
                if let Some(at) = lost_at {
                    self.wait_since(at).await;
                }
                let found = self.find_child(issue, kind, key).await?;
                if let Some(id) = found {
                    let seq = match lost {
                        Some(seq) => seq,
                        None => {
                            let mut e = self.entry(key, "adopt");
                            e.jira_id = Some(id.clone());
                            self.intend(&e)?
                        }
                    };
                    self.link_child(kind, key, &id, Value::Null)?;
                    self.ledger
                        .borrow_mut()
                        .outcome(seq, "adopted", Some(&id), None, None)?;
                    self.adopted.set(self.adopted.get() + 1);
                    self.close_pending(key)?;
                    return Ok(Ok(()));
                }
                if let Some(seq) = lost.take() {
                    self.ledger
                        .borrow_mut()
                        .outcome(seq, "not_applied", None, None, None)?;
                }
            }
            let mut e = self.entry(key, kind);
            e.after = Some(summary.clone());
            let seq = self.intend(&e)?;
            let t0 = Instant::now();
            self.writes.set(self.writes.get() + 1);
            let origin = vec![EntityProperty {
                key: ORIGIN_PROPERTY.into(),
                value: json!({"external_id": key, "run_id": self.opts.run_id}),
            }];
            let result = if kind == "comment" {
                self.client.add_comment(issue, body.clone(), origin).await
            } else {
                let mut w: NewWorklog = match serde_json::from_value(body.clone()) {
                    Ok(w) => w,
                    Err(e) => return Ok(Err(format!("worklog {key}: {e}"))),
                };
                w.properties = origin;
                self.client.add_worklog(issue, &w).await
            };
            match result {
                Ok(id) => {
                    self.link_child(kind, key, &id, Value::Null)?;
                    self.settle(&[seq], Ok(Some(&id)), t0)?;
                    self.close_pending(key)?;
                    return Ok(Ok(()));
                }
                Err(e) if is_ambiguous(&e) => {
                    self.settle(&[seq], Err(&e), t0)?;
                    unsure = true;
                    lost = Some(seq);
                    lost_at = Some(chrono::Utc::now());
                }
                Err(e) => {
                    self.settle(&[seq], Err(&e), t0)?;
                    return Ok(Err(format!("{kind} {key}: {}", jira_message(&e))));
                }
            }
        }
        Ok(Err(format!(
            "{kind} {key}: Jira's answer was lost several times; try again later"
        )))
    }

    fn close_pending(&self, key: &str) -> Result<(), ApplyError> {
        for row in self.pending.get(key).into_iter().flatten() {
            self.ledger
                .borrow_mut()
                .outcome(row.seq, "superseded", None, None, None)?;
        }
        Ok(())
    }

    fn link_child(&self, kind: &str, key: &str, id: &str, base: Value) -> Result<(), ApplyError> {
        self.ledger.borrow_mut().set_link(
            kind,
            key,
            &Link {
                jira_id: id.to_owned(),
                issue_key: None,
                base,
            },
        )?;
        Ok(())
    }

    /// One write that is safe to repeat (edit, transition, issue link, remote-link upsert): the
    /// client already retries these, so an outcome still unknown is a failure of the record.
    async fn write_once<T>(
        &self,
        entries: Vec<WriteEntry>,
        f: impl std::future::Future<Output = Result<T, jiralink_api::Error>>,
    ) -> Result<Result<T, String>, ApplyError> {
        let mut seqs = Vec::new();
        for e in &entries {
            seqs.push(self.intend(e)?);
        }
        let t0 = Instant::now();
        self.writes.set(self.writes.get() + 1);
        let r = f.await;
        match &r {
            Ok(_) => self.settle(&seqs, Ok(None), t0)?,
            Err(e) => self.settle(&seqs, Err(e), t0)?,
        }
        Ok(r.map_err(|e| jira_message(&e)))
    }

    /// The status category (`new`, `indeterminate`, `done`) of a status named `name`, from
    /// Jira's status list (read once a run); `None` when Jira has no such status or the list
    /// cannot be read.
    async fn status_category(&self, name: &str) -> Option<String> {
        if self.categories.borrow().is_none() {
            let map: HashMap<String, String> = match self.client.statuses().await {
                Ok(list) => list
                    .into_iter()
                    .filter_map(|s| Some((s.name.to_lowercase(), s.status_category?.key?)))
                    .collect(),
                Err(_) => HashMap::new(),
            };
            *self.categories.borrow_mut() = Some(map);
        }
        self.categories
            .borrow()
            .as_ref()
            .and_then(|m| m.get(&name.to_lowercase()).cloned())
    }

    /// The account an email address or username names (cached for the run).
    async fn user(&self, who: &str) -> Result<Option<String>, ApplyError> {
        if let Some(found) = self.users.borrow().get(who) {
            return Ok(found.clone());
        }
        let found = self.client.find_user(who).await?;
        self.users
            .borrow_mut()
            .insert(who.to_owned(), found.clone());
        Ok(found)
    }

    /// The values a transition's screen takes, from the record (its `assignee`, and its fields
    /// by id or display name); the keys of the record used go into `used`. A required field the
    /// record lacks is fine when the issue already holds a value (Jira fills the screen from the
    /// issue); otherwise the record fails with a message naming the field.
    async fn screen_values(
        &self,
        rec: &Record,
        issue: &str,
        step: &Step,
        used: &mut HashSet<String>,
    ) -> Result<Result<Map<String, Value>, String>, ApplyError> {
        let v3 = self.client.is_v3();
        let mut out = Map::new();
        let on = || format!("the transition '{}' to {}", step.name, step.to_name);
        for f in &step.fields {
            let given = rec
                .assignee
                .as_ref()
                .filter(|_| f.id == "assignee")
                .map(|a| ("assignee".to_owned(), json!(a)))
                .or_else(|| {
                    rec.fields
                        .iter()
                        .find(|(k, _)| **k == f.id || k.eq_ignore_ascii_case(&f.name))
                        .map(|(k, v)| (k.clone(), v.clone()))
                });
            match given {
                Some((k, v)) => {
                    let wire = if f.schema_type == "user" {
                        let Some(who) = v.as_str() else {
                            return Ok(Err(format!(
                                "{}: {}: give an email address or username",
                                on(),
                                f.name
                            )));
                        };
                        match self.user(who).await? {
                            Some(id) if v3 => json!({ "accountId": id }),
                            Some(id) => json!({ "name": id }),
                            None => {
                                return Ok(Err(format!(
                                    "{}: {}: no user '{who}' is visible to this account",
                                    on(),
                                    f.name
                                )))
                            }
                        }
                    } else {
                        match crate::plan::convert(&Spec::from(f), &v, v3) {
                            Ok(w) => w,
                            Err(e) => return Ok(Err(format!("{}: {e}", on()))),
                        }
                    };
                    used.insert(k);
                    out.insert(f.id.clone(), wire);
                }
                None if f.required => {
                    let held = match self.client.issue_with_fields(issue, &f.id).await {
                        Ok(v) => v.field(&f.id).is_some(),
                        Err(_) => false,
                    };
                    if !held {
                        return Ok(Err(format!(
                            "{} requires {} ({}) on its screen, and the record does not give it: add \"{}\" to its fields",
                            on(),
                            f.name,
                            f.id,
                            f.name
                        )));
                    }
                }
                None => {}
            }
        }
        Ok(Ok(out))
    }

    /// Walks the workflow to `target`, one transition at a time: a shortest path through the
    /// transitions learnt so far, else the step toward the target's status category; each
    /// transition screen filled from the record. At most `MAX_STEPS` transitions.
    async fn transition_to(
        &self,
        rec: &Record,
        p: &Plan,
        issue: &str,
        target: &str,
    ) -> Result<Result<(), String>, ApplyError> {
        let eid = &rec.external_id;
        let (mut now, now_name) = match self.client.issue_with_fields(issue, "status").await {
            Ok(v) => {
                let status = v.status().unwrap_or_default();
                (status.id.0, status.name)
            }
            Err(e) => return Ok(Err(format!("status: {}", jira_message(&e)))),
        };
        if now_name.eq_ignore_ascii_case(target) {
            return Ok(Ok(()));
        }
        let workflow = format!(
            "{}/{}",
            rec.project.to_uppercase(),
            rec.issue_type.to_lowercase()
        );
        let target_category = self.status_category(target).await;
        let mut visited = HashSet::from([now.clone()]);
        let mut used: HashSet<String> = HashSet::new();
        for _ in 0..MAX_STEPS {
            let steps = match self.client.transitions(issue).await {
                Ok(list) => steps_of(list),
                Err(e) => return Ok(Err(format!("transitions: {}", jira_message(&e)))),
            };
            let step = {
                let mut g = self.graph.borrow_mut();
                g.learn(&workflow, &now, steps.clone());
                g.route(&workflow, &now, target).or_else(|| {
                    explore(&g, &workflow, &steps, &visited, target_category.as_deref()).cloned()
                })
            };
            let Some(step) = step else {
                break;
            };
            let fields = match self.screen_values(rec, issue, &step, &mut used).await? {
                Ok(f) => f,
                Err(m) => return Ok(Err(m)),
            };
            let mut e = self.entry(eid, "transition");
            e.jira_id = Some(issue.to_owned());
            e.field = Some("status".into());
            e.after = Some(step.to_name.clone());
            let r = self
                .write_once(vec![e], self.client.transition(issue, &step.id, &fields))
                .await?;
            if let Err(m) = r {
                return Ok(Err(format!(
                    "transition '{}' to {}: {m}",
                    step.name, step.to_name
                )));
            }
            now = step.to_id.clone();
            visited.insert(now.clone());
            if step.to_name.eq_ignore_ascii_case(target) {
                let unused: Vec<&str> = p
                    .transition_fields
                    .iter()
                    .filter(|k| !used.contains(*k))
                    .map(String::as_str)
                    .collect();
                if !unused.is_empty() {
                    return Ok(Err(format!(
                        "{} is on neither the create screen of {} {} nor any transition screen on the way to {target}",
                        unused.join(", "),
                        rec.project,
                        rec.issue_type
                    )));
                }
                return Ok(Ok(()));
            }
        }
        Ok(Err(format!(
            "no path through the workflow leads from {now_name} to status '{target}' (within {MAX_STEPS} transitions)"
        )))
    }

    /// Everything a record needs after its issue exists.
    async fn finish(&self, rec: &Record, p: &Plan) -> Result<Vec<String>, ApplyError> {
        let mut problems = Vec::new();
        let Some((id, _)) = &p.issue else {
            return Ok(problems);
        };
        let eid = &rec.external_id;
        if !p.updates.is_empty() {
            let entries = p
                .diffs
                .iter()
                .map(|(f, before, after)| {
                    let mut e = self.entry(eid, "update");
                    e.jira_id = Some(id.clone());
                    e.field = Some(f.clone());
                    e.before = Some(before.to_string());
                    e.after = Some(after.to_string());
                    e
                })
                .collect();
            match self
                .write_once(entries, self.client.edit_issue(id, &p.updates))
                .await?
            {
                Ok(()) => {}
                Err(m) => problems.push(format!("update: {m}")),
            }
        }
        if problems.is_empty() {
            if let Some(l) = self.link_of("issue", eid)? {
                self.adopt_issue(eid, id, l.issue_key.as_deref().unwrap_or_default(), &p.base)?;
            }
        }
        if let Some(target) = &p.transition {
            if let Err(m) = self.transition_to(rec, p, id, target).await? {
                problems.push(m);
            }
        }
        let v3 = self.client.is_v3();
        for i in &p.comments {
            let c = &rec.comments[*i];
            let key = child_key(eid, &c.external_id);
            let body = markup::rich(&c.body, v3);
            if let Err(m) = self
                .add_child(
                    eid,
                    id,
                    "comment",
                    &key,
                    body,
                    c.body.chars().take(80).collect(),
                )
                .await?
            {
                problems.push(m);
            }
        }
        for i in &p.worklogs {
            let w = &rec.worklogs[*i];
            let key = child_key(eid, &w.external_id);
            let body = json!({
                "timeSpentSeconds": seconds(&w.time_spent).unwrap_or(0),
                "started": w.started,
                "comment": w.comment.as_deref().map(|c| markup::rich(c, v3)),
            });
            if let Err(m) = self
                .add_child(eid, id, "worklog", &key, body, w.time_spent.to_string())
                .await?
            {
                problems.push(m);
            }
        }
        for i in &p.links {
            let l = &rec.links[*i];
            let target = match (&l.key, &l.external_id) {
                (Some(k), _) => Some(k.clone()),
                (None, Some(e)) => self.link_of("issue", e)?.and_then(|x| x.issue_key),
                _ => None,
            };
            let name = l.key.as_deref().or(l.external_id.as_deref()).unwrap_or("");
            let Some(target) = target else {
                problems.push(format!("link to {name}: that record has no issue"));
                continue;
            };
            let Some(me) = self.link_of("issue", eid)?.and_then(|x| x.issue_key) else {
                continue;
            };
            let key = child_key(eid, &format!("{}/{name}", l.link_type));
            let mut e = self.entry(&key, "link");
            e.jira_id = Some(id.clone());
            e.after = Some(format!("{} {target}", l.link_type));
            match self
                .write_once(vec![e], self.client.link_issues(&l.link_type, &target, &me))
                .await?
            {
                Ok(()) => self.link_child("link", &key, &target, Value::Null)?,
                Err(m) => problems.push(format!("link {} {target}: {m}", l.link_type)),
            }
        }
        for i in &p.remote_links {
            let l = &rec.remote_links[*i];
            let key = child_key(eid, &l.global_id);
            let mut e = self.entry(&key, "remote_link");
            e.jira_id = Some(id.clone());
            e.after = Some(l.url.clone());
            match self
                .write_once(
                    vec![e],
                    self.client
                        .put_remote_link(id, &l.global_id, &l.url, &l.title),
                )
                .await?
            {
                Ok(rid) => self.link_child(
                    "remote_link",
                    &key,
                    &rid,
                    json!({"url": l.url, "title": l.title}),
                )?,
                Err(m) => problems.push(format!("remote link {}: {m}", l.global_id)),
            }
        }
        Ok(problems)
    }

    /// Moves the issues whose record names a sprint they are not in, 50 per request to each
    /// sprint (`POST sprint/{id}/issue`, safe to repeat); one ledger row per record.
    async fn move_to_sprints(
        &self,
        records: &[(usize, Record)],
        plans: &[Plan],
        failures: &mut HashMap<usize, Vec<String>>,
    ) -> Result<(), ApplyError> {
        let mut by_sprint: BTreeMap<u64, (String, Vec<usize>)> = BTreeMap::new();
        for (i, p) in plans.iter().enumerate() {
            if let (Some((sid, name)), Some(_)) = (&p.sprint, &p.issue) {
                if p.problems.is_empty() && !failures.contains_key(&i) {
                    by_sprint
                        .entry(*sid)
                        .or_insert_with(|| (name.clone(), Vec::new()))
                        .1
                        .push(i);
                }
            }
        }
        for (sid, (name, list)) in by_sprint {
            for chunk in list.chunks(MOVE_BATCH) {
                let mut keys = Vec::new();
                let mut entries = Vec::new();
                for i in chunk {
                    let Some((id, key)) = &plans[*i].issue else {
                        continue;
                    };
                    let mut e = self.entry(&records[*i].1.external_id, "sprint");
                    e.jira_id = Some(id.clone());
                    e.field = Some("sprint".into());
                    e.after = Some(name.clone());
                    entries.push(e);
                    keys.push(key.clone());
                }
                let r = self
                    .write_once(entries, move_issues(self.client, sid, &keys))
                    .await?;
                if let Err(m) = r {
                    for i in chunk {
                        failures
                            .entry(*i)
                            .or_default()
                            .push(format!("sprint {name}: {m}"));
                    }
                }
            }
        }
        Ok(())
    }

    /// Runs the plans (or, in a dry run, reports them); returns the reports, the write requests
    /// sent and the objects adopted.
    pub async fn execute(
        &self,
        records: &[(usize, Record)],
        mut plans: Vec<Plan>,
    ) -> Result<(Vec<RecordReport>, u64, u64), ApplyError> {
        let total = plans.len();
        let done = Cell::new(0usize);
        let tick = |n: usize| {
            done.set(done.get() + n);
            if let Some(p) = self.opts.progress {
                p(done.get().min(total), total);
            }
        };
        let mut failures: HashMap<usize, Vec<String>> = HashMap::new();
        let actions: Vec<Vec<String>> = plans.iter().map(Plan::actions).collect();
        if !self.opts.dry_run {
            let me = self.client.myself().await?;
            *self.author.borrow_mut() = me.account_id.or(me.key);
            self.create_all(records, &mut plans, &mut failures, &tick)
                .await?;
            let work: Vec<usize> = (0..plans.len())
                .filter(|i| plans[*i].problems.is_empty() && !failures.contains_key(i))
                .collect();
            let plans_ref = &plans;
            let results: Vec<(usize, Result<Vec<String>, ApplyError>)> =
                futures_util::stream::iter(work.into_iter().map(|i| async move {
                    let r = self.finish(&records[i].1, &plans_ref[i]).await;
                    if plans_ref[i].create.is_none() {
                        tick(1);
                    }
                    (i, r)
                }))
                .buffer_unordered(self.opts.concurrency.max(1))
                .collect()
                .await;
            for (i, r) in results {
                let problems = r?;
                if !problems.is_empty() {
                    failures.entry(i).or_default().extend(problems);
                }
            }
            self.move_to_sprints(records, &plans, &mut failures).await?;
        }
        let mut out = Vec::new();
        for (i, p) in plans.into_iter().enumerate() {
            let rec = &records[i].1;
            let mut problems = p.problems.clone();
            problems.extend(failures.remove(&i).unwrap_or_default());
            let acts = actions[i].clone();
            let outcome = if !problems.is_empty() {
                Outcome::Failed
            } else if acts.is_empty() {
                Outcome::Unchanged
            } else if self.opts.dry_run {
                Outcome::Planned
            } else {
                Outcome::Applied
            };
            out.push(RecordReport {
                line: p.line,
                external_id: rec.external_id.clone(),
                issue_key: p.issue.map(|(_, k)| k),
                actions: acts,
                outcome,
                problems,
            });
        }
        Ok((out, self.writes.get(), self.adopted.get()))
    }
}
