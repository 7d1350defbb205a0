//! Writing under a temporary name and renaming when done, so that a file under its real
//! name is always complete: a killed process leaves at most a `<name>.partial` behind.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use crate::DataError;

/// Where writers put a file until it is complete: `<path>.partial` (`a.parquet` →
/// `a.parquet.partial`).
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".partial");
    PathBuf::from(name)
}

/// Owns a `<path>.partial` file until it is renamed onto `path`; removes it if dropped
/// first (an error or an early return mid-write), so a failed write leaves nothing.
#[derive(Debug)]
pub(crate) struct PartialFile {
    partial: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl PartialFile {
    /// Creates (or truncates, after a killed run) `<target>.partial`.
    pub(crate) fn create(target: &Path) -> Result<(PartialFile, File), DataError> {
        let partial = partial_path(target);
        let file = File::create(&partial).map_err(|e| DataError::io(&partial, e))?;
        let guard = PartialFile {
            partial,
            target: target.to_path_buf(),
            committed: false,
        };
        Ok((guard, file))
    }

    /// The final path.
    pub(crate) fn target(&self) -> &Path {
        &self.target
    }

    /// Makes the data durable and moves it under the real name. Syncing first matters:
    /// without it a crash right after the rename can leave an empty file under the real name.
    pub(crate) fn commit(mut self, file: File) -> Result<(), DataError> {
        file.sync_all()
            .map_err(|e| DataError::io(&self.partial, e))?;
        drop(file);
        std::fs::rename(&self.partial, &self.target).map_err(|e| DataError::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the write already failed, and that error is the one to report.
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}
