//! Offline compaction (`zapgate compact`). sled appends every change to its log and reclaims
//! superseded pages only as segments are rewritten, so a data dir whose rows are rewritten often
//! (chat rows, counters, the activity index) holds several times its live data. Compaction
//! copies every tree, key by key, into a fresh database next to the live one and swaps it in.
//! The server must be stopped (sled locks its folder; opening a locked one fails here).
//!
//! Crash safety: the copy is written to `db.compacting` and flushed; then `db` becomes
//! `db.old`, `db.compacting` becomes `db`, and `db.old` is removed. [`recover`], run at every
//! open, finishes or undoes a swap a crash interrupted, so the data dir always opens on one
//! complete database.

use std::fs;
use std::io;
use std::path::Path;

use super::StoreError;

const LIVE: &str = "db";
const COPY: &str = "db.compacting";
const OLD: &str = "db.old";
/// Rows per batch written to the copy.
const BATCH: usize = 4096;

/// Sizes of the database before and after, in allocated bytes.
#[derive(Debug, Clone, Copy)]
pub struct Compacted {
    pub before: u64,
    pub after: u64,
    pub rows: u64,
}

/// Compacts the database of the data dir `dir`; the copy compresses its pages when `compress`
/// says so, whatever the live database did (this is how a data dir changes setting).
pub fn compact(dir: &Path, compress: bool) -> Result<Compacted, StoreError> {
    recover(dir)?;
    let (live, copy, old) = (dir.join(LIVE), dir.join(COPY), dir.join(OLD));
    if !live.exists() {
        return Err(StoreError::Encoding(format!(
            "no database at {}",
            live.display()
        )));
    }
    let before = allocated(&live);
    let mut rows = 0u64;
    {
        let src = super::config_for(&live, false).open()?;
        let dst = super::config_for(&copy, compress).open()?;
        for name in src.tree_names() {
            let from = src.open_tree(&name)?;
            let to = dst.open_tree(&name)?;
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for kv in from.iter() {
                let (k, v) = kv?;
                batch.insert(k, v);
                n += 1;
                if n == BATCH {
                    to.apply_batch(std::mem::take(&mut batch))?;
                    rows += n as u64;
                    n = 0;
                }
            }
            to.apply_batch(batch)?;
            rows += n as u64;
        }
        dst.flush()?;
    }
    fs::rename(&live, &old).map_err(io_error)?;
    fs::rename(&copy, &live).map_err(io_error)?;
    fs::remove_dir_all(&old).map_err(io_error)?;
    Ok(Compacted {
        before,
        after: allocated(&live),
        rows,
    })
}

/// Finishes or undoes a compaction a crash interrupted: a swap cut between its two renames
/// puts the old database back (the copy is dropped); a swap done but not cleaned up drops the
/// old one; a copy left alone is dropped.
pub fn recover(dir: &Path) -> Result<(), StoreError> {
    let (live, copy, old) = (dir.join(LIVE), dir.join(COPY), dir.join(OLD));
    if old.exists() {
        if live.exists() {
            fs::remove_dir_all(&old).map_err(io_error)?;
        } else {
            fs::rename(&old, &live).map_err(io_error)?;
        }
    }
    if copy.exists() {
        fs::remove_dir_all(&copy).map_err(io_error)?;
    }
    Ok(())
}

fn io_error(e: io::Error) -> StoreError {
    StoreError::Sled(sled::Error::Io(e))
}

/// Allocated bytes of every file under `path`.
fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok().map(|m| (e.path(), m)))
        .map(|(p, m)| {
            if m.is_dir() {
                allocated(&p)
            } else {
                m.blocks() * 512
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db(dir: &Path, name: &str, rows: &[(&str, &str)]) {
        let db = sled::Config::new().path(dir.join(name)).open().unwrap();
        let t = db.open_tree("t").unwrap();
        for (k, v) in rows {
            t.insert(k, *v).unwrap();
        }
        db.flush().unwrap();
    }

    fn read(dir: &Path) -> Vec<(String, String)> {
        let db = sled::Config::new().path(dir.join(LIVE)).open().unwrap();
        let t = db.open_tree("t").unwrap();
        t.iter()
            .map(|kv| {
                let (k, v) = kv.unwrap();
                (
                    String::from_utf8(k.to_vec()).unwrap(),
                    String::from_utf8(v.to_vec()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn compaction_keeps_every_row_and_shrinks_rewrites() {
        let dir = tempfile::tempdir().unwrap();
        {
            let db = sled::Config::new()
                .path(dir.path().join(LIVE))
                .open()
                .unwrap();
            let t = db.open_tree("t").unwrap();
            // One row rewritten many times, flushed each time: garbage in the log.
            for i in 0..3_000u32 {
                t.insert("hot", i.to_be_bytes().to_vec()).unwrap();
                t.insert(format!("k{}", i % 100), vec![7u8; 64]).unwrap();
                db.flush().unwrap();
            }
        }
        let c = once_unlocked(|| compact(dir.path(), false));
        assert_eq!(c.rows, 101);
        assert!(c.after < c.before, "{c:?}");
        let db = once_unlocked(|| Ok(sled::Config::new().path(dir.path().join(LIVE)).open()?));
        let t = db.open_tree("t").unwrap();
        assert_eq!(t.len(), 101);
        assert_eq!(
            t.get("hot").unwrap().unwrap().to_vec(),
            2_999u32.to_be_bytes().to_vec()
        );
    }

    /// `f` until it stops failing on sled's folder lock, which a database just dropped can
    /// still hold for a moment (its I/O threads let go of the file after the handle is gone).
    fn once_unlocked<T>(mut f: impl FnMut() -> Result<T, StoreError>) -> T {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match f() {
                Ok(v) => return v,
                Err(e)
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::yield_now();
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn compaction_converts_a_database_to_compression_and_back() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(LIVE);
        {
            let db = super::super::config_for(&live, false).open().unwrap();
            let t = db.open_tree("t").unwrap();
            for i in 0..2_000u32 {
                t.insert(format!("key {i:08}"), format!("value {i}").into_bytes())
                    .unwrap();
            }
            db.flush().unwrap();
        }
        let compressed = once_unlocked(|| compact(dir.path(), true));
        assert_eq!(compressed.rows, 2_000);
        // sled refuses a mismatched setting: opening with the wrong one would fail here.
        let reopen = |expect: bool| {
            let conf = String::from_utf8_lossy(&fs::read(live.join("conf")).unwrap()).into_owned();
            assert!(
                conf.contains(&format!("use_compression: {expect}")),
                "{conf}"
            );
            let db = once_unlocked(|| Ok(super::super::config_for(&live, !expect).open()?));
            let t = db.open_tree("t").unwrap();
            assert_eq!(t.len(), 2_000);
            assert_eq!(&*t.get("key 00001999").unwrap().unwrap(), b"value 1999");
        };
        reopen(true);
        once_unlocked(|| compact(dir.path(), false));
        reopen(false);
    }

    #[test]
    fn an_interrupted_swap_opens_on_one_complete_database() {
        // Cut between the renames: only db.old and the copy exist. The old one comes back.
        let dir = tempfile::tempdir().unwrap();
        db(dir.path(), OLD, &[("a", "old")]);
        db(dir.path(), COPY, &[("a", "copy")]);
        recover(dir.path()).unwrap();
        assert_eq!(read(dir.path()), [("a".to_string(), "old".to_string())]);
        assert!(!dir.path().join(COPY).exists() && !dir.path().join(OLD).exists());

        // Swapped but not cleaned up: the new one stays.
        let dir = tempfile::tempdir().unwrap();
        db(dir.path(), LIVE, &[("a", "new")]);
        db(dir.path(), OLD, &[("a", "old")]);
        recover(dir.path()).unwrap();
        assert_eq!(read(dir.path()), [("a".to_string(), "new".to_string())]);
        assert!(!dir.path().join(OLD).exists());
    }
}
