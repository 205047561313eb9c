//! The store's integration tests: the migration runner on SQLite (`migrate`) and, with feature
//! `postgres`, the PostgreSQL backend against the SQLite one (`postgres`, needs a server).

mod migrate;
#[cfg(feature = "postgres")]
mod postgres;

/// The migration versions this checkout has for `dialect` (`sqlite` or `postgres`), from the files
/// of `migrations/<dialect>/` (`NNNN_name.sql`), in order.
pub fn migration_versions(dialect: &str) -> Vec<i64> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect);
    let mut versions: Vec<i64> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|f| {
            let name = f.expect("entry").file_name().to_string_lossy().into_owned();
            name.split('_')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{name}: a migration file is named NNNN_name.sql"))
        })
        .collect();
    versions.sort_unstable();
    versions
}
