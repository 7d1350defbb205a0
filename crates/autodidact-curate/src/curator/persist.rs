//! The curator's history on disk: everything kept (or remembered) so far, so that a later run
//! or a resumed one checks new records against it without reading and hashing the old texts
//! again.
//!
//! The file holds, for each history entry in order, its record id, its exact-duplicate key and
//! its MinHash signature; the LSH index is rebuilt from the signatures when loading (a few
//! hundred nanoseconds an entry), so the threshold, bands and rows may change between runs.
//! What decides the keys and signatures may not: the text compared, the shingle size, the
//! number of permutations and whether signatures were kept at all. A file written under other
//! settings is refused with both settings named.
//!
//! Layout, little-endian: the magic `ADCIDX` + format version (u16); the settings (field u8,
//! signatures u8, permutations u32, ngram u32); the entry count (u64); then per entry the key
//! (u128), the id (u32 length + UTF-8), a flag (u8: 1 when a signature follows) and the
//! signature (permutations × u32). The file is written as `NAME.partial` and renamed, so a
//! killed process never leaves a truncated index under the real name.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::Curator;
use crate::config::DedupField;
use crate::error::CurateError;
use crate::minhash::Signature;

const MAGIC: &[u8; 6] = b"ADCIDX";
const VERSION: u16 = 1;

/// What decides the keys and signatures of an index.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Settings {
    field: u8,
    signatures: bool,
    permutations: u32,
    ngram: u32,
}

impl Settings {
    fn of(c: &Curator) -> Self {
        let field = match c.field {
            DedupField::Response => 0,
            DedupField::Prompt => 1,
            DedupField::PromptResponse => 2,
        };
        let (permutations, ngram) =
            c.near.as_ref().map_or((0, 0), |n| (n.hasher.permutations() as u32, n.hasher.ngram() as u32));
        Settings { field, signatures: c.near.is_some(), permutations, ngram }
    }

    fn describe(&self) -> String {
        let field = ["response", "prompt", "prompt+response"].get(self.field as usize).copied().unwrap_or("?");
        if self.signatures {
            format!("field {field}, {} permutations of word {}-grams", self.permutations, self.ngram)
        } else {
            format!("field {field}, exact duplicates only (no signatures)")
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> CurateError {
    bad(path, source.to_string())
}

fn bad(path: &Path, message: impl Into<String>) -> CurateError {
    CurateError::Index { path: path.to_path_buf(), message: message.into() }
}

impl Curator {
    /// Writes the history (every record kept or remembered so far) to `path`, atomically.
    pub fn save_index(&self, path: &Path) -> Result<(), CurateError> {
        let partial = PathBuf::from(format!("{}.partial", path.display()));
        let file = File::create(&partial).map_err(|e| io(&partial, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, file);
        let s = Settings::of(self);
        // Each entry's key and signature, by history entry.
        let mut keys = vec![0u128; self.history.len()];
        for (&k, &h) in &self.exact {
            if let Some(slot) = keys.get_mut(h as usize) {
                *slot = k;
            }
        }
        let mut sigs: Vec<Option<u32>> = vec![None; self.history.len()];
        if let Some(near) = &self.near {
            for (item, &h) in near.entries.iter().enumerate() {
                sigs[h as usize] = Some(item as u32);
            }
        }
        let write = |w: &mut BufWriter<File>| -> std::io::Result<()> {
            w.write_all(MAGIC)?;
            w.write_all(&VERSION.to_le_bytes())?;
            w.write_all(&[s.field, u8::from(s.signatures)])?;
            w.write_all(&s.permutations.to_le_bytes())?;
            w.write_all(&s.ngram.to_le_bytes())?;
            w.write_all(&(self.history.len() as u64).to_le_bytes())?;
            for (h, id) in self.history.iter().enumerate() {
                w.write_all(&keys[h].to_le_bytes())?;
                w.write_all(&(id.len() as u32).to_le_bytes())?;
                w.write_all(id.as_bytes())?;
                match (&self.near, sigs[h]) {
                    (Some(near), Some(item)) => {
                        w.write_all(&[1])?;
                        for v in near.index.signature(item) {
                            w.write_all(&v.to_le_bytes())?;
                        }
                    }
                    _ => w.write_all(&[0])?,
                }
            }
            w.flush()?;
            w.get_ref().sync_all()
        };
        write(&mut w).map_err(|e| io(&partial, e))?;
        drop(w);
        std::fs::rename(&partial, path).map_err(|e| io(path, e))
    }

    /// Adds the history saved in `path` by [`save_index`](Self::save_index) to this curator's,
    /// as [`remember`](Self::remember) would add the records themselves; returns the number of
    /// entries read. An index written under other settings (text compared, shingle size,
    /// permutations) is refused, naming both.
    pub fn load_index(&mut self, path: &Path) -> Result<usize, CurateError> {
        let file = File::open(path).map_err(|e| io(path, e))?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut head = [0u8; 6 + 2 + 2 + 4 + 4 + 8];
        r.read_exact(&mut head).map_err(|_| bad(path, "not an autodidact curation index (too short)"))?;
        if &head[..6] != MAGIC {
            return Err(bad(path, "not an autodidact curation index"));
        }
        let version = u16::from_le_bytes([head[6], head[7]]);
        if version != VERSION {
            return Err(bad(path, format!("index format {version}; this autodidact reads format {VERSION}")));
        }
        let u32_at = |i: usize| u32::from_le_bytes(head[i..i + 4].try_into().expect("4 bytes"));
        let theirs = Settings { field: head[8], signatures: head[9] == 1, permutations: u32_at(10), ngram: u32_at(14) };
        let ours = Settings::of(self);
        // An index with signatures serves an exact-only curator too (it ignores them).
        let compatible = theirs == ours || (!ours.signatures && theirs.field == ours.field);
        if !compatible {
            return Err(bad(
                path,
                format!("it was built with {}, and this run uses {}; use the same settings or another index file", theirs.describe(), ours.describe()),
            ));
        }
        let count = u64::from_le_bytes(head[18..26].try_into().expect("8 bytes"));
        let perms = theirs.permutations as usize;
        let truncated = |_| bad(path, "truncated (the file ends inside an entry)");
        let mut values = vec![0u32; perms];
        let mut bytes = vec![0u8; perms * 4];
        for _ in 0..count {
            let mut fixed = [0u8; 20];
            r.read_exact(&mut fixed).map_err(truncated)?;
            let key = u128::from_le_bytes(fixed[..16].try_into().expect("16 bytes"));
            let len = u32::from_le_bytes(fixed[16..20].try_into().expect("4 bytes")) as usize;
            let mut id = vec![0u8; len];
            r.read_exact(&mut id).map_err(truncated)?;
            let id = String::from_utf8(id).map_err(|_| bad(path, "an id is not UTF-8"))?;
            let mut flag = [0u8; 1];
            r.read_exact(&mut flag).map_err(truncated)?;
            let sig = if flag[0] == 1 {
                r.read_exact(&mut bytes).map_err(truncated)?;
                for (v, b) in values.iter_mut().zip(bytes.chunks_exact(4)) {
                    *v = u32::from_le_bytes(b.try_into().expect("4 bytes"));
                }
                ours.signatures.then(|| Signature::from_values(values.clone()))
            } else {
                None
            };
            self.add_history(id, key, sig);
        }
        Ok(count as usize)
    }
}
