//! Deterministic generator of a realistic organisation: users and groups, the seeded identities,
//! projects of several types with permission schemes, workflows, boards and sprints, and issues with
//! full histories, comments, worklogs and links. The same seed gives the same site (times are offsets
//! from the moment of generation), and a million issues generate in parallel in well under a minute.

use std::collections::{BTreeMap, HashMap};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::*;
use crate::{GenConfig, Identity};

const DAY: Millis = 86_400_000;
const HOUR: Millis = 3_600_000;
/// Generated history spans two years before the moment of generation.
const SPAN: Millis = 730 * DAY;
const SPRINT_LEN: Millis = 14 * DAY;
const CLOSED_SPRINTS: i64 = 26;
/// Share of the issues that are work in flight when the history starts: about the steady-state
/// WIP over the issue count (throughput x mean cycle time / arrivals over the span).
const IMPORTED_WIP: f64 = 0.009;

// Indices into the fixed catalogues below.
const EPIC: u16 = 0;
const STORY: u16 = 1;
const TASK: u16 = 2;
const BUG: u16 = 3;
const SUBTASK: u16 = 4;

const G_ADMINS: u16 = 0;
const G_SOFTWARE: u16 = 1;
const G_DEVELOPERS: u16 = 2;
const G_PRODUCT: u16 = 3;
const G_SUPPORT: u16 = 4;
const G_READERS: u16 = 5;

fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn statuses() -> Vec<Status> {
    use StatusCategory::*;
    let list = [
        ("Backlog", ToDo),
        ("To Do", ToDo),
        ("Selected for Development", ToDo),
        ("In Progress", InProgress),
        ("In Review", InProgress),
        ("Blocked", InProgress),
        ("Done", Done),
        ("Closed", Done),
        ("Won't Do", Done),
        ("Waiting for support", ToDo),
        ("Waiting for customer", InProgress),
        ("Resolved", Done),
    ];
    list.iter()
        .enumerate()
        .map(|(i, (name, category))| Status {
            id: 10000 + i as u32,
            name: (*name).into(),
            category: *category,
        })
        .collect()
}

/// The three workflows (status indices as in `statuses()`). Transitions are restricted as in
/// company-managed workflows: To Do reaches In Review only through In Progress, Backlog reaches
/// Blocked through Selected for Development and In Progress, a resolved request goes back to
/// support through the customer. Every move into a done status asks for a resolution on its
/// screen; starting work on a business project asks for an assignee. The generated history uses
/// only these transitions.
fn workflows() -> Vec<Workflow> {
    let resolve = || {
        vec![ScreenField {
            field: "resolution",
            required: true,
        }]
    };
    let t = |name: &str, from: &[u16], to: u16, screen: Vec<ScreenField>| WorkflowTransition {
        // Derived from the target status, as `routes::issues::transition_id` was: stable ids.
        id: (10000 + u32::from(to)) % 1000 * 10 + 11,
        name: name.into(),
        from: from.to_vec(),
        to,
        screen,
    };
    vec![
        Workflow {
            name: "Software Development Workflow".into(),
            statuses: vec![1, 3, 4, 6],
            transitions: vec![
                t("Stop Progress", &[3], 1, vec![]),
                t("Start Progress", &[1, 4, 6], 3, vec![]),
                t("Review", &[3], 4, vec![]),
                t("Done", &[1, 3, 4], 6, resolve()),
            ],
        },
        Workflow {
            name: "Business Workflow".into(),
            statuses: vec![0, 2, 3, 5, 7],
            transitions: vec![
                t("Back to Backlog", &[2], 0, vec![]),
                t("Select for Development", &[0], 2, vec![]),
                t(
                    "Start Progress",
                    &[2, 5, 7],
                    3,
                    vec![ScreenField {
                        field: "assignee",
                        required: true,
                    }],
                ),
                t("Block", &[3], 5, vec![]),
                t("Close", &[0, 3, 5], 7, resolve()),
            ],
        },
        Workflow {
            name: "Service Management Workflow".into(),
            statuses: vec![9, 10, 11],
            transitions: vec![
                t("Respond to support", &[10], 9, vec![]),
                t("Respond to customer", &[9, 11], 10, vec![]),
                t("Resolve", &[9, 10], 11, resolve()),
            ],
        },
    ]
}

fn issue_types() -> Vec<IssueType> {
    [
        ("Epic", false, 1),
        ("Story", false, 0),
        ("Task", false, 0),
        ("Bug", false, 0),
        ("Sub-task", true, -1),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, subtask, level))| IssueType {
        id: 10000 + i as u32,
        name: (*name).into(),
        subtask: *subtask,
        hierarchy_level: *level,
    })
    .collect()
}

fn named(names: &[&str], first_id: u32) -> Vec<NamedItem> {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| NamedItem {
            id: first_id + i as u32,
            name: (*n).into(),
        })
        .collect()
}

fn link_types() -> Vec<LinkType> {
    vec![
        LinkType {
            id: 10000,
            name: "Blocks",
            inward: "is blocked by",
            outward: "blocks",
        },
        LinkType {
            id: 10001,
            name: "Relates",
            inward: "relates to",
            outward: "relates to",
        },
        LinkType {
            id: 10002,
            name: "Duplicate",
            inward: "is duplicated by",
            outward: "duplicates",
        },
        LinkType {
            id: 10003,
            name: "Cloners",
            inward: "is cloned by",
            outward: "clones",
        },
    ]
}

const PROJECT_NAMES: &[(&str, &str)] = &[
    ("ENG", "Engineering"),
    ("WEB", "Web Platform"),
    ("OPS", "Operations"),
    ("MKT", "Marketing"),
    ("HELP", "Help Desk"),
    ("MOB", "Mobile Apps"),
    ("DATA", "Data Platform"),
    ("SEC", "Security"),
    ("LEGAL", "Legal Requests"),
    ("SUP", "Customer Support"),
    ("PAY", "Payments"),
    ("API", "Public API"),
    ("INFRA", "Infrastructure"),
    ("HR", "People Operations"),
    ("IT", "IT Service Desk"),
];

const FIRST: &[&str] = &[
    "Ada",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Dennis",
    "Frances",
    "Alan",
    "Radia",
    "Edsger",
    "Hedy",
    "Tim",
    "Katherine",
    "Donald",
    "Sophie",
    "John",
    "Mary",
    "Guido",
    "Anita",
    "Bjarne",
    "Jean",
    "Niklaus",
    "Carol",
];
const LAST: &[&str] = &[
    "Lovelace",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Allen",
    "Turing",
    "Perlman",
    "Dijkstra",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Knuth",
    "Wilson",
    "McCarthy",
    "Keller",
    "van Rossum",
    "Borg",
    "Stroustrup",
    "Sammet",
    "Wirth",
    "Shaw",
];
const ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Sydney,
    chrono_tz::Asia::Kolkata,
    chrono_tz::America::Los_Angeles,
    chrono_tz::Europe::London,
];
const LABELS: &[&str] = &[
    "backend",
    "frontend",
    "customer",
    "tech-debt",
    "security",
    "performance",
    "ux",
];

/// Where work goes in a workflow (positions in its status list; the last one is done).
struct Roles {
    /// A To Do status an item moves to before work starts ("Selected for Development").
    selected: Option<usize>,
    /// Where work starts.
    first: usize,
    /// A second in-progress status ("In Review", "Blocked").
    second: Option<usize>,
}

impl Roles {
    fn of(workflow: &[u16], statuses: &[Status]) -> Roles {
        let cat = |i: usize| statuses[workflow[i] as usize].category;
        let active: Vec<usize> = (0..workflow.len())
            .filter(|i| cat(*i) == StatusCategory::InProgress)
            .collect();
        let first = active.first().copied().unwrap_or(workflow.len() - 1);
        Roles {
            selected: (1..first).find(|i| cat(*i) == StatusCategory::ToDo),
            first,
            second: active.get(1).copied(),
        }
    }
}

/// A lognormal draw: `median` times e^(sigma·z) with z standard normal (Box-Muller).
fn lognormal(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> f64 {
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    median * (sigma * z).exp()
}

/// A lognormal duration in days (median, spread), capped at a year.
fn days(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> Millis {
    (lognormal(rng, median, sigma).min(365.0) * DAY as f64) as Millis
}

/// Everything the issue generator needs to know about the organisation, shared by all threads.
struct Org {
    seed: u64,
    issues: usize,
    start: Millis,
    now: Millis,
    /// Cumulative project weights (for picking a project per issue).
    project_cdf: Vec<f64>,
    project_types: Vec<ProjectType>,
    project_workflow: Vec<Vec<u16>>,
    project_roles: Vec<Roles>,
    project_issue_types: Vec<Vec<u16>>,
    /// Sprints of each project's scrum board, in time order: (id, start, end).
    project_sprints: Vec<Vec<(u32, Millis, Millis)>>,
    /// Active ordinary users who do the work.
    workers: Vec<UserIx>,
    done: Vec<bool>,
    project_versions: Vec<Vec<u32>>,
    project_components: Vec<Vec<u32>>,
}

impl Org {
    /// The project and issue type of issue `i`: a pure function of the seed, so any issue can find
    /// earlier epics and parents without shared state.
    fn header(&self, i: usize) -> (ProjectIx, u16) {
        let h = mix(self.seed ^ mix(i as u64 ^ 0xABCD));
        let u = (h >> 11) as f64 / (1u64 << 53) as f64;
        let project = self
            .project_cdf
            .partition_point(|c| *c < u)
            .min(self.project_cdf.len() - 1) as ProjectIx;
        let types = &self.project_issue_types[project as usize];
        let r = (h & 0xFF) as u32;
        let t = if self.project_types[project as usize] == ProjectType::Software {
            match r {
                0..=11 => EPIC,
                12..=110 => STORY,
                111..=170 => TASK,
                171..=225 => BUG,
                _ => SUBTASK,
            }
        } else {
            types[(r as usize) % types.len()]
        };
        (project, t)
    }
}

/// Builds the site and its seeded identities.
pub fn generate(cfg: &GenConfig) -> (Site, Vec<Identity>) {
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let cloud = cfg.deployment == Deployment::Cloud;
    let now = chrono::Utc::now().timestamp() * 1000;
    let start = now - SPAN;

    let groups: Vec<Group> = [
        "jira-administrators",
        "jira-software-users",
        "developers",
        "product",
        "support",
        "readers-limited",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| Group {
        name: (*n).into(),
        administer: i == 0,
    })
    .collect();

    // Users: ordinary workers first, then the identities' users.
    let n_workers = (cfg.issues / 200).clamp(20, 1000);
    let mut users = Vec::with_capacity(n_workers + 10);
    let mut usernames = HashMap::new();
    let mut new_user = |rng: &mut ChaCha8Rng,
                        users: &mut Vec<User>,
                        display: String,
                        groups: Vec<u16>|
     -> UserIx {
        let base: String = display
            .split(' ')
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w[..1].to_lowercase()
                } else {
                    w.to_lowercase().replace(['-', ' '], "")
                }
            })
            .collect();
        let n = usernames.entry(base.clone()).or_insert(0u32);
        *n += 1;
        let username = if *n == 1 { base } else { format!("{base}{n}") };
        let ix = users.len() as UserIx;
        let account_id = if cloud {
            format!(
                "712020:{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
                rng.gen::<u32>(),
                rng.gen::<u16>(),
                rng.gen::<u16>() & 0x0fff | 0x4000,
                rng.gen::<u16>() & 0x3fff | 0x8000,
                rng.gen::<u64>() & 0xffff_ffff_ffff
            )
        } else {
            format!("JIRAUSER{}", 10000 + ix)
        };
        users.push(User {
            account_id,
            email: format!("{username}@example.com"),
            username,
            display_name: display,
            active: true,
            time_zone: ZONES[rng.gen_range(0..ZONES.len())],
            groups,
            password: None,
            failed_logins: 0,
            app: false,
        });
        ix
    };
    for i in 0..n_workers {
        let name = format!(
            "{} {}",
            FIRST[i % FIRST.len()],
            LAST[(i / FIRST.len() + i * 7) % LAST.len()]
        );
        let mut g = vec![G_SOFTWARE];
        match i % 10 {
            0..=5 => g.push(G_DEVELOPERS),
            6 | 7 => g.push(G_PRODUCT),
            _ => g.push(G_SUPPORT),
        }
        let u = new_user(&mut rng, &mut users, name, g);
        if i % 17 == 16 {
            users[u as usize].active = false;
        }
    }
    let workers: Vec<UserIx> = (0..n_workers as UserIx)
        .filter(|u| users[*u as usize].active)
        .collect();

    // Projects.
    let n_projects = cfg
        .projects
        .unwrap_or((cfg.issues / 2000).clamp(3, 40))
        .max(1);
    let mut projects = Vec::with_capacity(n_projects);
    let (mut next_version, mut next_component) = (10000u32, 10000u32);
    for p in 0..n_projects {
        let (key, name) = match PROJECT_NAMES.get(p) {
            Some((k, n)) => ((*k).to_owned(), (*n).to_owned()),
            None => (format!("PRJ{p}"), format!("Project {p}")),
        };
        let project_type = match p % 5 {
            3 => ProjectType::Business,
            4 => ProjectType::ServiceDesk,
            _ => ProjectType::Software,
        };
        let (workflow, issue_types) = match project_type {
            ProjectType::Software => (0, vec![EPIC, STORY, TASK, BUG, SUBTASK]),
            ProjectType::Business => (1, vec![TASK, SUBTASK]),
            ProjectType::ServiceDesk => (2, vec![TASK, BUG]),
        };
        use Permission::*;
        let work = [
            BrowseProjects,
            CreateIssues,
            EditIssues,
            TransitionIssues,
            AddComments,
            WorkOnIssues,
            AssignIssues,
            ResolveIssues,
            LinkIssues,
            ScheduleIssues,
        ]
        .into_iter()
        .fold(Permissions::default(), Permissions::with);
        let mut grants = vec![(G_ADMINS, Permissions::ALL)];
        match project_type {
            ProjectType::Software => {
                grants.push((G_DEVELOPERS, work.with(ManageSprints)));
                grants.push((
                    G_PRODUCT,
                    Permissions::default()
                        .with(BrowseProjects)
                        .with(CreateIssues)
                        .with(AddComments),
                ));
            }
            ProjectType::Business => grants.push((G_PRODUCT, work)),
            ProjectType::ServiceDesk => grants.push((G_SUPPORT, work)),
        }
        grants.push((G_SOFTWARE, Permissions::default().with(BrowseProjects)));
        if p % 2 == 0 {
            grants.push((G_READERS, Permissions::default().with(BrowseProjects)));
        }
        let versions = named(&["1.0", "1.1", "2.0"], next_version);
        next_version += 3;
        let components = named(&["Backend", "Frontend", "Docs"], next_component);
        next_component += 3;
        projects.push(Project {
            id: 10000 + p as u64,
            key,
            name,
            project_type,
            lead: workers[p % workers.len().max(1)],
            workflow,
            issue_types,
            grants,
            next_number: 1,
            versions,
            components,
            archived: false,
            deleted: None,
        });
    }

    // Boards and sprints: a scrum board per software project, kanban for business ones.
    let mut boards = Vec::new();
    let mut sprints = Vec::new();
    let mut project_sprints = vec![Vec::new(); n_projects];
    for (p, project) in projects.iter().enumerate() {
        let scrum = project.project_type == ProjectType::Software;
        if project.project_type == ProjectType::ServiceDesk {
            continue;
        }
        let board = boards.len() as u32 + 1;
        boards.push(Board {
            id: board,
            name: format!("{} board", project.key),
            scrum,
            project: p as ProjectIx,
        });
        if !scrum {
            continue;
        }
        let first_start = now - 5 * DAY - CLOSED_SPRINTS * SPRINT_LEN;
        for n in 0..CLOSED_SPRINTS + 3 {
            let s_start = first_start + n * SPRINT_LEN;
            let s_end = s_start + SPRINT_LEN;
            let state = match n {
                n if n < CLOSED_SPRINTS => SprintState::Closed,
                n if n == CLOSED_SPRINTS => SprintState::Active,
                _ => SprintState::Future,
            };
            let id = sprints.len() as u32 + 1;
            let started = state != SprintState::Future;
            sprints.push(Sprint {
                id,
                board,
                name: format!("{} Sprint {}", project.key, n + 1),
                state,
                start: started.then_some(s_start),
                end: started.then_some(s_end),
                complete: (state == SprintState::Closed).then_some(s_end + HOUR),
                created: s_start - 3 * DAY,
                goal: format!("Ship the {} milestone {}", project.name, n + 1),
            });
            project_sprints[p].push((id, s_start, s_end));
        }
    }

    let weights: Vec<f64> = (0..n_projects)
        .map(|p| 1.0 / ((p + 1) as f64).powf(0.7))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    let project_cdf: Vec<f64> = weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect();
    let all_statuses = statuses();
    let workflows = workflows();
    let org = Org {
        seed: cfg.seed,
        issues: cfg.issues,
        start,
        now,
        project_cdf,
        project_types: projects.iter().map(|p| p.project_type).collect(),
        project_workflow: projects
            .iter()
            .map(|p| workflows[p.workflow as usize].statuses.clone())
            .collect(),
        project_roles: projects
            .iter()
            .map(|p| Roles::of(&workflows[p.workflow as usize].statuses, &all_statuses))
            .collect(),
        project_issue_types: projects.iter().map(|p| p.issue_types.clone()).collect(),
        project_sprints,
        workers: workers.clone(),
        done: all_statuses
            .iter()
            .map(|s| s.category == StatusCategory::Done)
            .collect(),
        project_versions: projects
            .iter()
            .map(|p| p.versions.iter().map(|v| v.id).collect())
            .collect(),
        project_components: projects
            .iter()
            .map(|p| p.components.iter().map(|c| c.id).collect())
            .collect(),
    };

    // Issues, in parallel chunks; each issue depends only on (seed, index).
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 16);
    let chunk = cfg.issues.div_ceil(threads).max(1);
    let mut issues: Vec<Issue> = Vec::with_capacity(cfg.issues);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..cfg.issues)
            .step_by(chunk)
            .map(|from| {
                let org = &org;
                let to = (from + chunk).min(cfg.issues);
                scope.spawn(move || (from..to).map(|i| org.issue(i)).collect::<Vec<_>>())
            })
            .collect();
        for h in handles {
            issues.extend(h.join().expect("a generator thread panicked"));
        }
    });

    // Sequential pass: keys, ids of changelogs, comments, worklogs and links.
    let mut keys = HashMap::with_capacity(issues.len());
    let (mut change_id, mut comment_id, mut worklog_id, mut link_id) =
        (100_000u64, 100_000u64, 100_000u64, 10_000u64);
    for issue in issues.iter_mut() {
        let project = &mut projects[issue.project as usize];
        issue.number = project.next_number;
        project.next_number += 1;
        keys.insert(format!("{}-{}", project.key, issue.number), issue.id);
        for g in issue.changelog.iter_mut() {
            g.id = change_id;
            change_id += 1;
        }
        for c in issue.comments.iter_mut() {
            c.id = comment_id;
            comment_id += 1;
        }
        for w in issue.worklogs.iter_mut() {
            w.id = worklog_id;
            worklog_id += 1;
        }
    }
    for i in 0..issues.len() {
        let h = mix(cfg.seed ^ mix(i as u64 ^ 0x11AA));
        if i < 10 || !h.is_multiple_of(10) {
            continue;
        }
        let other = i - 1 - (h >> 8) as usize % 10.min(i);
        let link_type = ((h >> 16) % 4) as u8;
        let (outward, inward) = (issues[i].id, issues[other].id);
        issues[i].links.push(IssueLink {
            id: link_id,
            link_type,
            outward: true,
            other: inward,
        });
        issues[other].links.push(IssueLink {
            id: link_id,
            link_type,
            outward: false,
            other: outward,
        });
        link_id += 1;
    }

    let mut site = Site {
        deployment: cfg.deployment,
        cloud_id: format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            rng.gen::<u32>(),
            rng.gen::<u16>(),
            rng.gen::<u16>() & 0xfff,
            rng.gen::<u16>() & 0xfff,
            rng.gen::<u64>() & 0xffff_ffff_ffff
        ),
        users,
        groups,
        tokens: HashMap::new(),
        statuses: all_statuses,
        issue_types: issue_types(),
        priorities: named(&["Highest", "High", "Medium", "Low", "Lowest"], 1),
        resolutions: named(
            &["Done", "Won't Do", "Duplicate", "Cannot Reproduce"],
            10000,
        ),
        workflows,
        link_types: link_types(),
        projects,
        issues,
        keys,
        boards,
        sprints,
        deleted_comments: Vec::new(),
        deleted_worklogs: Vec::new(),
        next_comment_id: comment_id,
        next_worklog_id: worklog_id,
        child_properties: Default::default(),
        next_change_id: change_id,
        next_link_id: link_id,
        next_sprint_id: 0,
        generated_at: now,
    };
    site.next_sprint_id = site.sprints.len() as u32 + 1;
    let identities = seed_identities(&mut site, &mut rng, new_user);
    (site, identities)
}

impl Org {
    fn issue(&self, i: usize) -> Issue {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.seed) ^ mix(i as u64));
        let (project, issue_type) = self.header(i);
        let p = project as usize;
        // Arrivals at a steady rate; the first issues are the work in flight the organisation
        // brought along when it started using Jira (imported on the first day, started at once), so
        // that WIP is as high in the first month as later on.
        let imported = (self.issues as f64 * IMPORTED_WIP).round() as usize;
        let in_flight = i < imported;
        let created = if in_flight {
            self.start + i as i64 * (HOUR / imported as i64)
        } else {
            let step = (SPAN - HOUR) / (self.issues - imported).max(1) as i64;
            self.start + HOUR + step * (i - imported) as i64 + rng.gen_range(0..step.max(1))
        };
        let worker = |rng: &mut ChaCha8Rng| self.workers[rng.gen_range(0..self.workers.len())];
        let reporter = worker(&mut rng);
        let workflow = &self.project_workflow[p];

        // The item's fate: closed unstarted from the backlog, or started after a queue and done
        // after a right-skewed cycle time (most in days, some in weeks); a few go stale, a few are
        // reopened, a few bounce between statuses for a long time (long histories).
        let software = self.project_types[p] == ProjectType::Software;
        let roles = &self.project_roles[p];
        let last = workflow.len() - 1;
        let dropped = rng.gen_bool(0.06);
        // Work in flight is length-biased: long-running kinds are over-represented in it.
        let dropped = dropped && !in_flight;
        let stale =
            !dropped && issue_type != EPIC && rng.gen_bool(if in_flight { 0.3 } else { 0.025 });
        let long = !dropped
            && !stale
            && issue_type != SUBTASK
            && rng.gen_bool(if in_flight { 0.05 } else { 0.006 });
        let median_cycle = match (self.project_types[p], issue_type) {
            (_, EPIC) => 21.0,
            (ProjectType::ServiceDesk, _) => 1.5,
            (_, SUBTASK) => 1.5,
            (_, BUG) => 2.5,
            (_, TASK) => 3.0,
            _ => 4.5,
        };
        let cycle = if stale {
            days(&mut rng, 45.0, 0.5)
        } else if long {
            days(&mut rng, 40.0, 0.4)
        } else if issue_type == EPIC {
            days(&mut rng, median_cycle, 0.6)
        } else {
            days(&mut rng, median_cycle, 0.9)
        }
        .max(HOUR);

        // Sprint planning (scrum boards, stories, tasks and bugs): the item waits for the next
        // sprint (or, when urgent, joins the running one) and is picked up early in it.
        let sprints = &self.project_sprints[p];
        let sprintable = software
            && !dropped
            && issue_type != EPIC
            && issue_type != SUBTASK
            && rng.gen_bool(0.85);
        let urgent = rng.gen_bool(0.2);
        let planned = sprintable
            .then(|| {
                sprints.iter().position(|(_, s_start, s_end)| {
                    (urgent && *s_start <= created && created < *s_end) || *s_start >= created
                })
            })
            .flatten()
            .filter(|k| sprints[*k].1 - created <= 21 * DAY);
        let pickup = ((-1.5 * rng.gen_range(f64::EPSILON..1.0f64).ln()) * DAY as f64) as Millis;
        let start = match planned {
            Some(k) => sprints[k].1.max(created + HOUR) + pickup.min(10 * DAY),
            None if in_flight => created + 10 * 60_000,
            None => created + days(&mut rng, 2.0, 1.3).max(10 * 60_000),
        };
        let done_at = start + cycle;

        // Status moves as (time, workflow position); Done moves carry their resolution.
        let mut marks: Vec<(Millis, usize, Option<u8>)> = Vec::new();
        if dropped {
            let closed = created + days(&mut rng, 30.0, 1.0).max(HOUR);
            marks.push((closed, last, Some(if rng.gen_bool(0.8) { 1 } else { 2 })));
        } else {
            if let Some(selected) = roles.selected {
                marks.push((created + (start - created) / 2, selected, None));
            }
            marks.push((start, roles.first, None));
            let span = done_at - start;
            if long {
                // Bouncing between two statuses for weeks: long changelogs.
                let other = roles.second.unwrap_or(0);
                let n = rng.gen_range(50..70) * 2;
                for k in 1..=n {
                    let pos = if k % 2 == 1 { other } else { roles.first };
                    marks.push((start + span * k as i64 / (n as i64 + 1), pos, None));
                }
            } else if let Some(second) = roles.second {
                if rng.gen_bool(if software { 0.85 } else { 0.25 }) {
                    let t1 = start + (span as f64 * rng.gen_range(0.3..0.8)) as Millis;
                    marks.push((t1, second, None));
                    if rng.gen_bool(0.2) {
                        let t2 = t1 + ((done_at - t1) as f64 * rng.gen_range(0.2..0.5)) as Millis;
                        marks.push((t2, roles.first, None));
                        if software {
                            let t3 =
                                t2 + ((done_at - t2) as f64 * rng.gen_range(0.4..0.9)) as Millis;
                            marks.push((t3, second, None));
                        }
                    }
                }
            }
            let res = if stale {
                1
            } else if issue_type == BUG && rng.gen_bool(0.1) {
                rng.gen_range(2..4)
            } else {
                0
            };
            marks.push((done_at, last, Some(res)));
            if !stale && rng.gen_bool(0.04) {
                let reopened = done_at + days(&mut rng, 3.0, 1.0);
                marks.push((reopened, roles.first, None));
                marks.push((reopened + days(&mut rng, 2.0, 1.0), last, Some(0)));
            }
        }

        let mut events: Vec<(Millis, ChangeValue)> = Vec::new();
        let mut pos = 0usize;
        let mut assignee: Option<UserIx> = None;
        let mut resolution: Option<u8> = None;
        let mut resolved: Option<Millis> = None;
        let mut status_changed = created;
        for (t, to, res) in marks {
            if t >= self.now {
                break;
            }
            if to == pos {
                continue;
            }
            if assignee.is_none() && to != last {
                let a = worker(&mut rng);
                events.push((
                    t,
                    ChangeValue::Assignee {
                        from: None,
                        to: Some(a),
                    },
                ));
                assignee = Some(a);
            } else if long && rng.gen_bool(0.1) {
                let a = worker(&mut rng);
                events.push((
                    t,
                    ChangeValue::Assignee {
                        from: assignee,
                        to: Some(a),
                    },
                ));
                assignee = Some(a);
            }
            events.push((
                t,
                ChangeValue::Status {
                    from: workflow[pos],
                    to: workflow[to],
                },
            ));
            pos = to;
            status_changed = t;
            let new_res = if self.done[workflow[to] as usize] {
                res.or(Some(0))
            } else {
                None
            };
            if new_res != resolution {
                events.push((
                    t,
                    ChangeValue::Resolution {
                        from: resolution,
                        to: new_res,
                    },
                ));
                resolution = new_res;
                resolved = new_res.map(|_| t);
            }
        }
        // When the item was last worked on: comments and worklogs fall before it.
        let active_until = match resolved {
            Some(r) => r,
            None if stale => (start + 3 * DAY).min(self.now),
            None => self.now,
        };
        let age = (active_until - created).max(1);
        if rng.gen_bool(0.1) {
            let t2 = created + rng.gen_range(0..age);
            let from = rng.gen_range(0..5u8);
            events.push((t2, ChangeValue::Priority { from, to: 2 }));
        }
        let priority = events
            .iter()
            .rev()
            .find_map(|(_, e)| match e {
                ChangeValue::Priority { to, .. } => Some(*to),
                _ => None,
            })
            .unwrap_or_else(|| [0u8, 1, 2, 2, 2, 2, 3, 4][rng.gen_range(0..8)]);

        // Story points on stories and bugs of software projects, sometimes re-estimated.
        let estimable = software && (issue_type == STORY || issue_type == BUG);
        let mut story_points =
            estimable.then(|| [1.0f32, 2.0, 3.0, 5.0, 8.0, 13.0][rng.gen_range(0..6)]);
        if let Some(sp) = story_points {
            if rng.gen_bool(0.15) {
                let to = [1.0f32, 2.0, 3.0, 5.0, 8.0, 13.0][rng.gen_range(0..6)];
                if to != sp {
                    events.push((
                        created + rng.gen_range(0..age),
                        ChangeValue::StoryPoints {
                            from: Some(sp),
                            to: Some(to),
                        },
                    ));
                    story_points = Some(to);
                }
            }
        }

        // Sprint membership: joined at the planned sprint's start (committed) or on creation
        // (scope added), carried over to the next sprint at each end while not done, back to the
        // backlog after the fourth sprint.
        let mut in_sprints = Vec::new();
        if let Some(mut k) = planned {
            let finished = resolved.unwrap_or(Millis::MAX);
            loop {
                let (id, s_start, s_end) = sprints[k];
                let when = if in_sprints.is_empty() {
                    s_start.max(created + HOUR)
                } else {
                    s_start
                };
                let when = if when > self.now {
                    created + HOUR
                } else {
                    when
                }
                .min(self.now - 1);
                let from = in_sprints.clone();
                in_sprints.push(id);
                events.push((
                    when,
                    ChangeValue::Sprint {
                        from,
                        to: in_sprints.clone(),
                    },
                ));
                if finished <= s_end
                    || s_end > self.now
                    || in_sprints.len() == 4
                    || k + 1 >= sprints.len()
                {
                    break;
                }
                k += 1;
            }
        }
        events.sort_by_key(|(t, _)| *t);
        let changelog: Vec<ChangeGroup> = events
            .into_iter()
            .map(|(t, item)| ChangeGroup {
                id: 0,
                author: assignee.unwrap_or(reporter),
                created: t,
                items: vec![item],
            })
            .collect();

        // Comments and worklogs, while the item is worked on.
        let n_comments = if long || rng.gen_bool(0.02) {
            rng.gen_range(25..45)
        } else {
            rng.gen_range(0..6)
        };
        let mut comments: Vec<Comment> = (0..n_comments)
            .map(|_| {
                let at = created + rng.gen_range(0..age);
                Comment {
                    id: 0,
                    author: worker(&mut rng),
                    created: at,
                    updated: at,
                    body: None,
                }
            })
            .collect();
        comments.sort_by_key(|c| c.created);
        // Most started issues have a few worklogs; some long-running ones more than the 20 Jira
        // embeds.
        let work_from = start.min(active_until - 1);
        let work = (active_until - work_from).max(1);
        let n_worklogs = if issue_type == EPIC || dropped || resolved.is_none() && start >= self.now
        {
            0
        } else if long || rng.gen_bool(0.015) {
            rng.gen_range(21..40)
        } else {
            rng.gen_range(0..4)
        };
        let mut worklogs: Vec<Worklog> = (0..n_worklogs)
            .map(|_| {
                let at = (work_from + rng.gen_range(0..work)).max(created);
                Worklog {
                    id: 0,
                    author: assignee.unwrap_or_else(|| worker(&mut rng)),
                    started: at - HOUR,
                    created: at,
                    updated: at,
                    time_spent_seconds: 900 * rng.gen_range(1..17),
                    comment: None,
                }
            })
            .collect();
        worklogs.sort_by_key(|w| w.created);
        let updated = changelog
            .last()
            .map(|g| g.created)
            .into_iter()
            .chain(comments.last().map(|c| c.created))
            .chain(worklogs.last().map(|w| w.created))
            .fold(created, Millis::max)
            .min(self.now);

        // Parents: stories, tasks and bugs under a recent epic; sub-tasks under a recent story or task.
        let parent = match issue_type {
            SUBTASK => (1..60.min(i + 1)).map(|d| i - d).find(|j| {
                let (pj, tj) = self.header(*j);
                pj == project && (tj == STORY || tj == TASK)
            }),
            STORY | TASK | BUG if software && rng.gen_bool(0.7) => (1..300.min(i + 1))
                .map(|d| i - d)
                .find(|j| self.header(*j) == (project, EPIC)),
            _ => None,
        }
        .map(|j| FIRST_ISSUE_ID + j as IssueId);

        let labels = if rng.gen_bool(0.3) {
            vec![Box::from(LABELS[rng.gen_range(0..LABELS.len())])]
        } else {
            Vec::new()
        };
        let versions = &self.project_versions[p];
        let fix_versions = if resolution.is_some() && rng.gen_bool(0.5) {
            vec![versions[rng.gen_range(0..versions.len())]]
        } else {
            Vec::new()
        };
        let components_all = &self.project_components[p];
        let components = if rng.gen_bool(0.4) {
            vec![components_all[rng.gen_range(0..components_all.len())]]
        } else {
            Vec::new()
        };
        let description = rng.gen_bool(0.3).then(|| {
            Box::from(format!(
                "As a user I need this so that my work is easier.\nAcceptance: case {} passes.",
                i % 97
            ))
        });
        Issue {
            id: FIRST_ISSUE_ID + i as IssueId,
            project,
            number: 0,
            issue_type,
            status: workflow[pos],
            priority,
            resolution,
            summary: None,
            description,
            assignee,
            reporter,
            created,
            updated,
            resolved,
            status_changed,
            story_points,
            sprints: in_sprints,
            parent,
            labels,
            fix_versions,
            components,
            changelog,
            comments,
            worklogs,
            links: Vec::new(),
            remote_links: Vec::new(),
            properties: BTreeMap::new(),
            deleted: None,
        }
    }
}

fn secret(rng: &mut ChaCha8Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The identities of PRODUCT.md, each backed by a real user and token or password.
/// The classic read scopes (Jira platform).
pub const CLASSIC_READ_SCOPES: &[&str] = &["read:jira-work", "read:jira-user"];

/// The read scopes Jira Software's operations ask for (boards, sprints, epics, their issues); they
/// have no classic equivalent, so a classic token reads boards and sprints only with them.
pub const AGILE_READ_SCOPES: &[&str] = &[
    "read:board-scope:jira-software",
    "read:board-scope.admin:jira-software",
    "read:sprint:jira-software",
    "read:epic:jira-software",
    "read:issue:jira-software",
    "read:project:jira",
    "read:issue-details:jira",
    "read:jql:jira",
];

/// The read operations the simulator serves (path samples); `granular-reader` holds the granular
/// scopes of all of them, which is every scope a read sync needs.
const READ_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/rest/api/3/serverInfo"),
    ("GET", "/rest/api/3/myself"),
    ("GET", "/rest/api/3/mypermissions"),
    ("POST", "/rest/api/3/permissions/project"),
    ("POST", "/rest/api/3/permissions/check"),
    ("GET", "/rest/api/3/project"),
    ("GET", "/rest/api/3/project/search"),
    ("GET", "/rest/api/3/project/P"),
    ("GET", "/rest/api/3/field"),
    ("GET", "/rest/api/3/status"),
    ("GET", "/rest/api/3/statuscategory"),
    ("GET", "/rest/api/3/priority"),
    ("GET", "/rest/api/3/resolution"),
    ("GET", "/rest/api/3/issuetype"),
    ("GET", "/rest/api/3/issueLinkType"),
    ("GET", "/rest/api/3/users/search"),
    ("GET", "/rest/api/3/user/search"),
    ("GET", "/rest/api/3/user"),
    ("GET", "/rest/api/3/search"),
    ("POST", "/rest/api/3/search"),
    ("GET", "/rest/api/3/search/jql"),
    ("POST", "/rest/api/3/search/jql"),
    ("POST", "/rest/api/3/search/approximate-count"),
    ("POST", "/rest/api/3/issue/bulkfetch"),
    ("GET", "/rest/api/3/issue/P-1"),
    ("GET", "/rest/api/3/issue/P-1/changelog"),
    ("POST", "/rest/api/3/changelog/bulkfetch"),
    ("GET", "/rest/api/3/issue/P-1/comment"),
    ("GET", "/rest/api/3/issue/P-1/comment/1"),
    ("POST", "/rest/api/3/comment/list"),
    ("GET", "/rest/api/3/issue/P-1/worklog"),
    ("GET", "/rest/api/3/issue/P-1/worklog/1"),
    ("GET", "/rest/api/3/worklog/updated"),
    ("GET", "/rest/api/3/worklog/deleted"),
    ("POST", "/rest/api/3/worklog/list"),
    ("GET", "/rest/api/3/issue/P-1/transitions"),
    ("GET", "/rest/api/3/issue/P-1/properties"),
    ("GET", "/rest/api/3/issue/P-1/properties/k"),
    ("GET", "/rest/api/3/issue/P-1/remotelink"),
    ("GET", "/rest/api/3/issueLink/1"),
    ("GET", "/rest/agile/1.0/board"),
    ("GET", "/rest/agile/1.0/board/1"),
    ("GET", "/rest/agile/1.0/board/1/configuration"),
    ("GET", "/rest/agile/1.0/board/1/sprint"),
    ("GET", "/rest/agile/1.0/board/1/issue"),
    ("GET", "/rest/agile/1.0/board/1/epic"),
    ("GET", "/rest/agile/1.0/sprint/1"),
    ("GET", "/rest/agile/1.0/sprint/1/issue"),
];

/// `granular-reader`'s scopes: for each read operation, its granular set (scopes named
/// `verb:resource:product`), taken from the spec table.
fn granular_read_scopes() -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (method, path) in READ_OPERATIONS {
        let op = crate::scopes::operation(method, path)
            .expect("every read operation the simulator serves is in the spec table");
        let granular = op
            .alternatives
            .iter()
            .find(|set| !set.is_empty() && set.iter().all(|s| s.matches(':').count() == 2));
        for scope in granular.into_iter().flatten() {
            if !out.iter().any(|s| s == *scope) {
                out.push(scope.to_string());
            }
        }
    }
    out
}

fn seed_identities(
    site: &mut Site,
    rng: &mut ChaCha8Rng,
    mut new_user: impl FnMut(&mut ChaCha8Rng, &mut Vec<User>, String, Vec<u16>) -> UserIx,
) -> Vec<Identity> {
    let cloud = site.deployment == Deployment::Cloud;
    let now = site.generated_at;
    let mut out = Vec::new();
    let mut add = |out: &mut Vec<Identity>,
                   site: &mut Site,
                   rng: &mut ChaCha8Rng,
                   name: &str,
                   display: &str,
                   groups: Vec<u16>,
                   kind: Option<TokenKind>,
                   expires: Option<Millis>,
                   revoked: bool,
                   age_days: i64|
     -> UserIx {
        let user = new_user(rng, &mut site.users, display.to_owned(), groups);
        let (auth, secret_value) = match &kind {
            None => {
                let password = secret(rng, 20);
                site.users[user as usize].password = Some(password.clone());
                ("basic", password)
            }
            Some(k) => {
                let value = match k {
                    TokenKind::Pat => secret(rng, 44),
                    TokenKind::ServiceAccount { .. } => format!("ATSTT3xFfGN0{}", secret(rng, 180)),
                    _ => format!("ATATT3xFfGF0{}={:08X}", secret(rng, 180), rng.gen::<u32>()),
                };
                site.tokens.insert(
                    value.clone(),
                    Token {
                        secret: value.clone(),
                        user,
                        kind: k.clone(),
                        created: now - age_days * DAY,
                        expires,
                        revoked,
                    },
                );
                let auth = match k {
                    TokenKind::ApiToken => "cloud-token",
                    TokenKind::Scoped { .. } => "scoped-token",
                    TokenKind::ServiceAccount { .. } => "service-account",
                    TokenKind::Pat => "pat",
                    TokenKind::OAuth2Access { .. } => "oauth2",
                };
                (auth, value)
            }
        };
        let u = &site.users[user as usize];
        out.push(Identity {
            name: name.to_owned(),
            auth: auth.to_owned(),
            email: cloud.then(|| u.email.clone()),
            username: (!cloud).then(|| u.username.clone()),
            secret: secret_value,
            account_id: Some(u.account_id.clone()),
            extra: BTreeMap::new(),
        });
        user
    };
    let admin_groups = vec![G_ADMINS, G_SOFTWARE, G_DEVELOPERS];
    let dev = vec![G_SOFTWARE, G_DEVELOPERS];
    let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let classic_read = owned(CLASSIC_READ_SCOPES);
    let classic_and_agile = owned(&[CLASSIC_READ_SCOPES, AGILE_READ_SCOPES].concat());
    if cloud {
        let api = Some(TokenKind::ApiToken);
        add(
            &mut out,
            site,
            rng,
            "admin",
            "Site Admin",
            admin_groups,
            api.clone(),
            None,
            false,
            120,
        );
        add(
            &mut out,
            site,
            rng,
            "reader",
            "Read Only",
            vec![G_READERS],
            api.clone(),
            Some(now + 300 * DAY),
            false,
            30,
        );
        add(
            &mut out,
            site,
            rng,
            "scoped-reader",
            "Scoped Reader",
            dev.clone(),
            Some(TokenKind::Scoped {
                scopes: classic_and_agile.clone(),
            }),
            Some(now + 300 * DAY),
            false,
            10,
        );
        let mut sa_scopes = classic_and_agile;
        sa_scopes.push("write:jira-work".to_owned());
        let sa = add(
            &mut out,
            site,
            rng,
            "service-account",
            "Sync Service Account",
            dev.clone(),
            Some(TokenKind::ServiceAccount { scopes: sa_scopes }),
            Some(now + 365 * DAY),
            false,
            5,
        );
        site.users[sa as usize].app = true;
        site.users[sa as usize].email = format!(
            "{}@serviceaccount.atlassian.com",
            site.users[sa as usize].username
        );
        if let Some(i) = out.last_mut() {
            i.email = Some(site.users[sa as usize].email.clone());
        }
        add(
            &mut out,
            site,
            rng,
            "expired",
            "Expired Token",
            dev.clone(),
            api.clone(),
            Some(now - 2 * DAY),
            false,
            400,
        );
        add(
            &mut out,
            site,
            rng,
            "revoked",
            "Revoked Token",
            dev.clone(),
            api.clone(),
            None,
            true,
            50,
        );
        let inactive = add(
            &mut out,
            site,
            rng,
            "inactive",
            "Former Employee",
            dev,
            api,
            None,
            false,
            200,
        );
        site.users[inactive as usize].active = false;
        add(
            &mut out,
            site,
            rng,
            "granular-reader",
            "Granular Reader",
            vec![G_SOFTWARE, G_DEVELOPERS],
            Some(TokenKind::Scoped {
                scopes: granular_read_scopes(),
            }),
            Some(now + 300 * DAY),
            false,
            8,
        );
        add(
            &mut out,
            site,
            rng,
            "scoped-no-agile",
            "Scoped Reader Without Agile",
            vec![G_SOFTWARE, G_DEVELOPERS],
            Some(TokenKind::Scoped {
                scopes: classic_read,
            }),
            Some(now + 300 * DAY),
            false,
            12,
        );
    } else {
        let admin = add(
            &mut out,
            site,
            rng,
            "admin",
            "Site Admin",
            admin_groups,
            None,
            None,
            false,
            0,
        );
        add(
            &mut out,
            site,
            rng,
            "reader",
            "Read Only",
            vec![G_READERS],
            None,
            None,
            false,
            0,
        );
        // The admin's PAT belongs to the admin user itself.
        let pat = secret(rng, 44);
        site.tokens.insert(
            pat.clone(),
            Token {
                secret: pat.clone(),
                user: admin,
                kind: TokenKind::Pat,
                created: now - 20 * DAY,
                expires: Some(now + 70 * DAY),
                revoked: false,
            },
        );
        let a = &site.users[admin as usize];
        out.push(Identity {
            name: "pat-admin".into(),
            auth: "pat".into(),
            email: None,
            username: Some(a.username.clone()),
            secret: pat,
            account_id: Some(a.account_id.clone()),
            extra: BTreeMap::new(),
        });
        let pat = Some(TokenKind::Pat);
        add(
            &mut out,
            site,
            rng,
            "expired",
            "Expired Token",
            dev.clone(),
            pat.clone(),
            Some(now - 2 * DAY),
            false,
            400,
        );
        add(
            &mut out,
            site,
            rng,
            "revoked",
            "Revoked Token",
            dev.clone(),
            pat,
            None,
            true,
            50,
        );
        let inactive = add(
            &mut out,
            site,
            rng,
            "inactive",
            "Former Employee",
            dev.clone(),
            None,
            None,
            false,
            0,
        );
        site.users[inactive as usize].active = false;
        let captcha = add(
            &mut out,
            site,
            rng,
            "captcha",
            "Locked Out",
            dev,
            None,
            None,
            false,
            0,
        );
        site.users[captcha as usize].failed_logins = CAPTCHA_THRESHOLD;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(deployment: Deployment, issues: usize) -> GenConfig {
        GenConfig {
            deployment,
            seed: 9,
            issues,
            projects: None,
        }
    }

    /// The generated history moves issues only along their workflow's transitions, and the
    /// workflows are restricted: some statuses take several steps to reach.
    #[test]
    fn generated_history_follows_the_workflows() {
        let (site, _) = generate(&cfg(Deployment::Cloud, 3000));
        let mut moves = 0;
        for i in &site.issues {
            let wf = site.workflow_of(i);
            for g in &i.changelog {
                for item in &g.items {
                    if let ChangeValue::Status { from, to } = item {
                        assert!(
                            wf.transitions_from(*from).any(|t| t.to == *to),
                            "{}: {} -> {} is not a transition of {}",
                            site.issue_key(i),
                            site.statuses[*from as usize].name,
                            site.statuses[*to as usize].name,
                            wf.name
                        );
                        moves += 1;
                    }
                }
            }
        }
        assert!(moves > 3000, "{moves}");
        for wf in &site.workflows {
            let direct = wf
                .statuses
                .iter()
                .flat_map(|a| wf.statuses.iter().map(move |b| (*a, *b)))
                .filter(|(a, b)| a != b && !wf.transitions_from(*a).any(|t| t.to == *b))
                .count();
            assert!(direct > 0, "{}: every status reaches every other", wf.name);
        }
    }

    #[test]
    fn same_seed_same_site() {
        let (a, ia) = generate(&cfg(Deployment::Cloud, 2000));
        let (b, ib) = generate(&cfg(Deployment::Cloud, 2000));
        assert_eq!(a.issues.len(), 2000);
        for (x, y) in a.issues.iter().zip(&b.issues) {
            assert_eq!(
                (
                    x.id,
                    x.project,
                    x.number,
                    x.status,
                    x.changelog.len(),
                    x.comments.len()
                ),
                (
                    y.id,
                    y.project,
                    y.number,
                    y.status,
                    y.changelog.len(),
                    y.comments.len()
                )
            );
            assert_eq!(x.created - a.generated_at, y.created - b.generated_at);
        }
        assert_eq!(
            ia.iter().map(|i| &i.secret).collect::<Vec<_>>(),
            ib.iter().map(|i| &i.secret).collect::<Vec<_>>()
        );
    }

    #[test]
    fn histories_end_in_the_current_state() {
        let (site, _) = generate(&cfg(Deployment::Cloud, 3000));
        for (n, issue) in site.issues.iter().enumerate() {
            assert_eq!(issue.id, FIRST_ISSUE_ID + n as IssueId);
            let last_status = issue
                .changelog
                .iter()
                .rev()
                .flat_map(|g| &g.items)
                .find_map(|i| match i {
                    ChangeValue::Status { to, .. } => Some(*to),
                    _ => None,
                });
            let wf =
                &site.workflows[site.projects[issue.project as usize].workflow as usize].statuses;
            assert_eq!(
                last_status.unwrap_or(wf[0]),
                issue.status,
                "{}",
                site.issue_key(issue)
            );
            let done = site.statuses[issue.status as usize].category == StatusCategory::Done;
            assert_eq!(done, issue.resolution.is_some(), "resolution follows Done");
            assert!(issue
                .changelog
                .windows(2)
                .all(|w| w[0].created <= w[1].created && w[0].id < w[1].id));
            assert!(issue.updated >= issue.created && issue.updated <= site.generated_at);
            if let Some(p) = issue.parent {
                let parent = site.issue(p).expect("parent exists");
                assert_eq!(parent.project, issue.project);
                assert!(p < issue.id);
            }
            assert_eq!(site.keys[&site.issue_key(issue)], issue.id);
        }
        assert!(
            site.issues.iter().any(|i| i.changelog.len() > 100),
            "some long histories"
        );
        assert!(
            site.issues.iter().any(|i| i.comments.len() > 20),
            "some long comment threads"
        );
        let reopened = site
            .issues
            .iter()
            .filter(|i| {
                i.changelog.iter().flat_map(|g| &g.items).any(|c| {
                    matches!(
                        c,
                        ChangeValue::Resolution {
                            from: Some(_),
                            to: None
                        }
                    )
                })
            })
            .count();
        assert!(reopened > 0, "some issues were reopened");
    }

    #[test]
    fn identities_per_deployment_and_reader_sees_some_projects() {
        let (cloud, ids) = generate(&cfg(Deployment::Cloud, 500));
        let names: Vec<&str> = ids.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "admin",
                "reader",
                "scoped-reader",
                "service-account",
                "expired",
                "revoked",
                "inactive",
                "granular-reader",
                "scoped-no-agile"
            ]
        );
        let reader = cloud.tokens[&ids[1].secret].user;
        let visible = (0..cloud.projects.len() as u32)
            .filter(|p| cloud.can_browse(reader, *p))
            .count();
        assert!(visible > 0 && visible < cloud.projects.len());
        let (dc, ids) = generate(&cfg(Deployment::Datacenter, 500));
        let names: Vec<&str> = ids.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "admin",
                "reader",
                "pat-admin",
                "expired",
                "revoked",
                "inactive",
                "captcha"
            ]
        );
        assert!(dc
            .users
            .iter()
            .all(|u| u.account_id.starts_with("JIRAUSER")));
        let sprints = &dc.sprints;
        assert!(
            sprints.iter().any(|s| s.state == SprintState::Active)
                && sprints.iter().any(|s| s.state == SprintState::Future)
        );
    }
}

/// The generated organisation's headline figures, read from the issues' changelogs as insights
/// read them (see docs/simulator.md, "The generated organisation").
#[cfg(test)]
mod realism {
    use super::*;

    struct Figures {
        throughput_per_week: f64,
        wip_first_month: usize,
        wip_last_month: usize,
        wip_median_age_days: f64,
        cycle_p50: f64,
        cycle_p85: f64,
        sprint_completion: f64,
        bug_share: f64,
        stale_share_of_wip: f64,
        reopen_rate: f64,
    }

    fn percentile(sorted: &[f64], p: f64) -> f64 {
        sorted[((sorted.len() - 1) as f64 * p).round() as usize]
    }

    /// Status moves of an issue: (time, to).
    fn moves(issue: &Issue) -> Vec<(Millis, u16)> {
        issue
            .changelog
            .iter()
            .flat_map(|g| g.items.iter().map(move |i| (g.created, i)))
            .filter_map(|(t, i)| match i {
                ChangeValue::Status { to, .. } => Some((t, *to)),
                _ => None,
            })
            .collect()
    }

    fn figures(site: &Site) -> Figures {
        let cat = |s: u16| site.statuses[s as usize].category;
        let now = site.generated_at;
        let first = |issue: &Issue| {
            let wf = &site.workflows[site.projects[issue.project as usize].workflow as usize];
            wf.statuses[0]
        };
        let status_at = |issue: &Issue, t: Millis| {
            moves(issue)
                .iter()
                .take_while(|(at, _)| *at <= t)
                .last()
                .map_or(first(issue), |m| m.1)
        };
        let wip_at = |t: Millis| {
            site.issues
                .iter()
                .filter(|i| i.created <= t && cat(status_at(i, t)) == StatusCategory::InProgress)
                .count()
        };
        let window = now - 26 * 7 * DAY;
        let (mut cycles, mut done, mut bugs, mut reopened) = (Vec::new(), 0usize, 0usize, 0usize);
        let (mut ages, mut stale) = (Vec::new(), 0usize);
        for issue in &site.issues {
            let m = moves(issue);
            let started = m
                .iter()
                .find(|(_, s)| cat(*s) == StatusCategory::InProgress)
                .map(|x| x.0);
            let status = cat(issue.status);
            if status == StatusCategory::Done {
                let done_at = m
                    .iter()
                    .rev()
                    .find(|(_, s)| cat(*s) == StatusCategory::Done)
                    .map_or(issue.created, |x| x.0);
                if done_at >= window {
                    done += 1;
                    bugs += usize::from(issue.issue_type == BUG);
                    if let Some(s) = started {
                        cycles.push((done_at - s) as f64 / DAY as f64);
                    }
                    let dones = m
                        .iter()
                        .filter(|(_, s)| cat(*s) == StatusCategory::Done)
                        .count();
                    reopened += usize::from(dones > 1);
                }
            } else if status == StatusCategory::InProgress {
                ages.push((now - started.unwrap_or(issue.created)) as f64 / DAY as f64);
                stale += usize::from(now - issue.updated > 30 * DAY);
            }
        }
        cycles.sort_by(f64::total_cmp);
        ages.sort_by(f64::total_cmp);
        // Closed sprints: items in the sprint at its start and done at its end.
        let (mut committed, mut completed) = (0usize, 0usize);
        for sprint in site
            .sprints
            .iter()
            .filter(|s| s.state == SprintState::Closed)
        {
            let (start, end) = (
                sprint.start.expect("generated data has it"),
                sprint.end.expect("generated data has it"),
            );
            for issue in &site.issues {
                let member_at = |t: Millis| {
                    issue
                        .changelog
                        .iter()
                        .filter(|g| g.created <= t)
                        .flat_map(|g| &g.items)
                        .filter_map(|i| match i {
                            ChangeValue::Sprint { to, .. } => Some(to.contains(&sprint.id)),
                            _ => None,
                        })
                        .next_back()
                        .unwrap_or(false)
                };
                if member_at(start) {
                    committed += 1;
                    completed += usize::from(
                        member_at(end) && cat(status_at(issue, end)) == StatusCategory::Done,
                    );
                }
            }
        }
        Figures {
            throughput_per_week: done as f64 / 26.0,
            wip_first_month: wip_at(now - SPAN + 30 * DAY),
            wip_last_month: wip_at(now),
            wip_median_age_days: percentile(&ages, 0.5),
            cycle_p50: percentile(&cycles, 0.5),
            cycle_p85: percentile(&cycles, 0.85),
            sprint_completion: completed as f64 / committed.max(1) as f64,
            bug_share: bugs as f64 / done.max(1) as f64,
            stale_share_of_wip: stale as f64 / ages.len().max(1) as f64,
            reopen_rate: reopened as f64 / done.max(1) as f64,
        }
    }

    #[test]
    fn a_20000_issue_site_reads_like_a_plausible_organisation() {
        let (site, _) = generate(&GenConfig {
            deployment: Deployment::Cloud,
            seed: 9,
            issues: 20_000,
            projects: None,
        });
        let f = figures(&site);
        eprintln!(
            "throughput {:.0}/week, WIP {} (first month) {} (last), WIP median age {:.1} d, \
             cycle p50 {:.1} d p85 {:.1} d, sprint completion {:.0}%, bug share {:.0}%, \
             stale {:.0}% of WIP, reopened {:.1}%",
            f.throughput_per_week,
            f.wip_first_month,
            f.wip_last_month,
            f.wip_median_age_days,
            f.cycle_p50,
            f.cycle_p85,
            f.sprint_completion * 100.0,
            f.bug_share * 100.0,
            f.stale_share_of_wip * 100.0,
            f.reopen_rate * 100.0
        );
        // Little's law: arrivals and completions balance, so WIP neither piles up nor drains.
        let (a, b) = (f.wip_first_month as f64, f.wip_last_month as f64);
        assert!((b - a).abs() <= 0.25 * a, "WIP {a} then {b}");
        assert!(f.wip_median_age_days < f.cycle_p85);
        // Throughput matches arrivals (20,000 over two years is 192 a week) less the dropped.
        assert!((160.0..=200.0).contains(&f.throughput_per_week));
        // WIP = throughput x mean cycle time: a small share of the issues.
        assert!((150..=400).contains(&f.wip_last_month));
        assert!((2.0..=5.0).contains(&f.cycle_p50), "{}", f.cycle_p50);
        assert!((8.0..=20.0).contains(&f.cycle_p85), "{}", f.cycle_p85);
        assert!((0.70..=0.90).contains(&f.sprint_completion));
        assert!((0.15..=0.30).contains(&f.bug_share));
        assert!((0.01..=0.20).contains(&f.stale_share_of_wip));
        assert!((0.02..=0.06).contains(&f.reopen_rate));
    }
}
