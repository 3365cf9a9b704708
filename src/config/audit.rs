//! `[audit]`: where the audit trail (SPEC §11.1) is kept, and for how long.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Six years: SEC Rule 17a-4(a) keeps a broker-dealer's records of this kind that long.
pub const RETENTION_DAYS_DEFAULT: u32 = 2190;

/// `[audit]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// Folder of the daily audit files. Default `<wal.dir>/audit`.
    pub dir: Option<PathBuf>,
    /// Days a daily file is kept after its day; older files are removed at start and at each
    /// roll. Default 2190 (six years).
    pub retention_days: u32,
    /// Entries waiting for the audit writer; when it is full a new entry is dropped and
    /// counted (`omnigate_audit_dropped_total`), never waited for. Default 65536.
    pub queue_capacity: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            dir: None,
            retention_days: RETENTION_DAYS_DEFAULT,
            queue_capacity: 65_536,
        }
    }
}

impl AuditConfig {
    /// The folder in use: `audit.dir`, else `audit` inside the WAL's folder.
    pub fn dir_beside(&self, wal_dir: &Path) -> PathBuf {
        self.dir.clone().unwrap_or_else(|| wal_dir.join("audit"))
    }

    pub(super) fn problems(&self, problem: &mut impl FnMut(&str, String)) {
        if self.retention_days == 0 {
            problem("audit.retention_days", "must be at least 1".to_owned());
        }
        if !(1..=16_777_216).contains(&self.queue_capacity) {
            problem(
                "audit.queue_capacity",
                format!("{} is outside 1..=16777216", self.queue_capacity),
            );
        }
        if self
            .dir
            .as_ref()
            .is_some_and(|dir| dir.as_os_str().is_empty())
        {
            problem("audit.dir", "is empty".to_owned());
        }
    }
}
