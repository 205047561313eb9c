//! The one migration runner of both dialects: which of a build's migrations a store lacks, and
//! whether those it has applied are still the ones this build carries (a SHA-256 of each
//! migration's text is recorded in `schema_migrations.checksum`; an edited applied migration is
//! refused). Each backend does only the reading and writing of `schema_migrations`, in one
//! transaction, through [`plan`].
//!
//! A migration list is `(version, sql)` pairs in version order, one per file of
//! `migrations/<dialect>/NNNN_name.sql`; the two dialects use the same numbers. A store whose
//! migrations were applied before checksums were recorded adopts this build's checksums on its
//! first open (the column is added and filled); from then on they are checked.

use sha2::{Digest, Sha256};

use crate::{Result, StoreError};

/// A migration list: `(version, sql)` in version order.
pub type Migrations = [(i64, &'static str)];

/// What a backend does to bring a store up to date.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Applied migrations recorded without a checksum, with the one to record.
    pub adopt: Vec<(i64, String)>,
    /// Migrations to run, in order, with their checksums.
    pub apply: Vec<(i64, &'static str, String)>,
}

/// The SHA-256 of a migration's text, hex; line endings are taken as `\n`, so a checkout that
/// turned them into `\r\n` does not count as an edit.
pub fn checksum(sql: &str) -> String {
    let digest = Sha256::digest(sql.replace("\r\n", "\n").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares what a store has applied (`version`, recorded checksum) with `list` (of `dialect`,
/// `sqlite` or `postgres`, for messages) and says what to do; `place` names the store in errors.
pub fn plan(
    applied: &[(i64, Option<String>)],
    list: &'static Migrations,
    dialect: &str,
    place: &str,
) -> Result<Plan> {
    let newest = list.iter().map(|(v, _)| *v).max().unwrap_or(0);
    if let Some(found) = applied
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| *v > newest)
        .max()
    {
        return Err(StoreError::TooNew {
            path: place.to_owned(),
            found,
        });
    }
    let mut plan = Plan::default();
    for (version, sql) in list {
        let expected = checksum(sql);
        match applied.iter().find(|(v, _)| v == version) {
            None => plan.apply.push((*version, sql, expected)),
            Some((_, None)) => plan.adopt.push((*version, expected)),
            Some((_, Some(found))) if *found == expected => {}
            Some((_, Some(found))) => {
                return Err(StoreError::EditedMigration {
                    place: place.to_owned(),
                    migration: format!("migrations/{dialect}/{version:04}_*.sql"),
                    found: found.clone(),
                    expected,
                })
            }
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    static LIST: &Migrations = &[(1, "CREATE TABLE a (x);"), (2, "CREATE TABLE b (y);")];

    #[test]
    fn a_new_store_applies_everything_in_order() {
        let p = plan(&[], LIST, "sqlite", "db").expect("plan");
        assert!(p.adopt.is_empty());
        let versions: Vec<i64> = p.apply.iter().map(|(v, _, _)| *v).collect();
        assert_eq!(versions, [1, 2]);
        assert_eq!(p.apply[0].2, checksum(LIST[0].1));
    }

    #[test]
    fn applied_migrations_without_checksums_are_adopted() {
        let p = plan(&[(1, None)], LIST, "sqlite", "db").expect("plan");
        assert_eq!(p.adopt, [(1, checksum(LIST[0].1))]);
        assert_eq!(p.apply.len(), 1);
        assert_eq!(p.apply[0].0, 2);
    }

    #[test]
    fn a_missing_earlier_migration_is_applied_after_a_later_one() {
        // Branches merged out of order: 2 was applied before 1 existed in this build's list.
        let p = plan(&[(2, Some(checksum(LIST[1].1)))], LIST, "sqlite", "db").expect("plan");
        assert_eq!(p.apply.len(), 1);
        assert_eq!(p.apply[0].0, 1);
    }

    #[test]
    fn an_edited_applied_migration_is_refused_by_name() {
        let e = plan(
            &[(1, Some(checksum("CREATE TABLE a (z);")))],
            LIST,
            "postgres",
            "postgres://ann@db/jira",
        )
        .expect_err("refused");
        let text = e.to_string();
        assert!(matches!(e, StoreError::EditedMigration { .. }), "{text}");
        assert!(
            text.contains("migrations/postgres/0001_*.sql")
                && text.contains("postgres://ann@db/jira")
                && text.contains("new migration"),
            "{text}"
        );
    }

    #[test]
    fn a_newer_store_is_refused() {
        let e = plan(&[(3, None)], LIST, "sqlite", "db").expect_err("refused");
        assert!(matches!(e, StoreError::TooNew { found: 3, .. }), "{e}");
    }

    #[test]
    fn line_endings_do_not_count_as_an_edit() {
        assert_eq!(checksum("a;\r\nb;\r\n"), checksum("a;\nb;\n"));
        assert_ne!(checksum("a;"), checksum("b;"));
        assert_eq!(checksum("").len(), 64);
    }
}
