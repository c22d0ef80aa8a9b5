//! Output files that never destroy data: refused when they are an input (or another output),
//! and written together.
//!
//! Every command that writes files first calls [`check_outputs`] with its inputs and outputs,
//! before doing any work: an output that is the same file as an input or as another output
//! (same inode, through symlinks, hard links and relative paths; or, for an output that does
//! not exist yet, the same canonical path) is refused with [`Error::OutputClash`], like `cp`
//! refuses to copy a file onto itself, and an output whose directory is missing or not writable
//! is refused before the work instead of after it. [`Staged`] then writes each output to a
//! temporary file beside it and renames them all into place only when every one was written:
//! on any failure none of them appears.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Whether `a` and `b` name the same file. Both existing: the same device and inode (unix) or the
/// same canonical path. Otherwise: the same canonical parent directory and file name.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            return ma.dev() == mb.dev() && ma.ino() == mb.ino();
        }
        #[cfg(not(unix))]
        {
            let _ = (ma, mb);
        }
    }
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The canonical path of `p`, or of its parent joined with its file name when `p` does not
/// exist yet.
fn canonical(p: &Path) -> Option<PathBuf> {
    if let Ok(c) = std::fs::canonicalize(p) {
        return Some(c);
    }
    let name = p.file_name()?;
    let dir = parent_dir(p);
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

fn parent_dir(p: &Path) -> &Path {
    p.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Refuse outputs that would destroy an input or each other, or that cannot be written.
///
/// `inputs` and `outputs` are `(role, path)` pairs; the role names the file in the error (e.g.
/// `"the data"`, `"--posteriors"`). Checks, in order: every output against every input and
/// every earlier output ([`same_file`]); every output's directory exists and accepts a new file
/// (a probe file is created and removed); no output is an existing directory.
///
/// ```
/// use pgmkit::io::outputs::check_outputs;
/// use std::path::Path;
/// let data = Path::new("tests/data/bif/asia.bif");
/// assert!(check_outputs(&[("the model", data)], &[("--out", data)]).is_err());
/// ```
pub fn check_outputs(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (k, &(role, out)) in outputs.iter().enumerate() {
        let clash = inputs
            .iter()
            .chain(&outputs[..k])
            .find(|(_, other)| same_file(out, other));
        if let Some(&(other_role, other)) = clash {
            return Err(Error::OutputClash {
                output: out.to_path_buf(),
                role: role.to_string(),
                other: other.to_path_buf(),
                other_role: other_role.to_string(),
            });
        }
        if out.is_dir() {
            return Err(Error::io(
                out,
                std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let dir = parent_dir(out);
        let probe = dir.join(format!(".pgmkit-probe-{}", std::process::id()));
        match std::fs::File::create(&probe) {
            Ok(_) => {
                let _ = std::fs::remove_file(&probe);
            }
            Err(e) => return Err(Error::io(out, e)),
        }
    }
    Ok(())
}

/// Output files written to temporary files and renamed into place together by
/// [`Staged::commit`]; dropped without a commit (an error on the way), it removes them all.
#[derive(Debug, Default)]
pub struct Staged {
    /// (temporary file, final path)
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Nothing staged yet.
    pub fn new() -> Staged {
        Staged::default()
    }

    /// Write `path`'s contents through `write` into a buffered, synced temporary file in the same
    /// directory; `path` itself is untouched until [`Staged::commit`].
    pub fn write(
        &mut self,
        path: &Path,
        write: impl FnOnce(&mut dyn Write) -> Result<()>,
    ) -> Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = parent_dir(path).join(format!(
            ".{name}.tmp{}-{}",
            std::process::id(),
            self.files.len()
        ));
        let file = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        // registered first, so that a failure below removes it
        self.files.push((tmp, path.to_path_buf()));
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(path, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(path, e))
    }

    /// Rename every staged file into place (in the order written). A failing rename removes
    /// the temporary files not yet renamed.
    pub fn commit(mut self) -> Result<()> {
        let files = std::mem::take(&mut self.files);
        let mut it = files.into_iter();
        while let Some((tmp, path)) = it.next() {
            if let Err(e) = std::fs::rename(&tmp, &path) {
                let _ = std::fs::remove_file(&tmp);
                for (t, _) in it {
                    let _ = std::fs::remove_file(&t);
                }
                return Err(Error::io(&path, e));
            }
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clashes_are_found_through_relative_paths_and_links() {
        let dir = std::env::temp_dir().join(format!("pgmkit-outputs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.csv");
        std::fs::write(&a, "x\n").unwrap();
        let rel = dir.join(".").join("a.csv");
        assert!(same_file(&a, &rel));
        #[cfg(unix)]
        {
            let link = dir.join("link.csv");
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&a, &link).unwrap();
            assert!(same_file(&a, &link));
        }
        let new = dir.join("new.csv");
        assert!(same_file(&new, &dir.join(".").join("new.csv")));
        assert!(!same_file(&a, &new));
        let err = check_outputs(&[("the data", &a)], &[("--out", &rel)]).unwrap_err();
        assert!(matches!(err, Error::OutputClash { .. }), "{err}");
        let err = check_outputs(&[], &[("--out", &new), ("--posteriors", &new)]).unwrap_err();
        assert!(matches!(err, Error::OutputClash { .. }), "{err}");
        assert!(check_outputs(&[], &[("--out", &dir.join("missing/x.csv"))]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn staged_files_appear_together_or_not_at_all() {
        let dir = std::env::temp_dir().join(format!("pgmkit-staged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("a.csv"), dir.join("b.csv"));
        {
            let mut s = Staged::new();
            s.write(&a, |w| w.write_all(b"1\n").map_err(|e| Error::io("a", e)))
                .unwrap();
            let r = s.write(&b, |_| Err(Error::InvalidArgument("fails".into())));
            assert!(r.is_err());
        }
        assert!(!a.exists() && !b.exists());
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "no temporary left"
        );
        let mut s = Staged::new();
        s.write(&a, |w| w.write_all(b"1\n").map_err(|e| Error::io("a", e)))
            .unwrap();
        s.write(&b, |w| w.write_all(b"2\n").map_err(|e| Error::io("b", e)))
            .unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&b).unwrap(), "2\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
