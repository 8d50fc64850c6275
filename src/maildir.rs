//! Durable delivery into Maildir (https://cr.yp.to/proto/maildir.html).
//!
//! For each copy: create a uniquely named file in `MAILBOX/tmp/` (O_EXCL),
//! write, fsync, close (checked), hard-link into `MAILBOX/new/` (a link
//! never replaces an existing file), fsync `new/`, then unlink the tmp
//! name. Where the file system's journal makes that safe (`Order`), the
//! file is instead written out and waited for (`sync_file_range`), linked,
//! then fsynced: one journal commit then holds the data's allocation and
//! the link, and no name in `new/` can outlive a crash without its data.
//! Only after every copy of a message has got that far does the
//! caller answer 250. If any step fails for any copy, the copies already
//! linked are unlinked again, so a message lands in all its mailboxes or
//! in none; every failure is temporary (4xx) for the sender.
//!
//! All paths are resolved relative to directory descriptors opened without
//! following symlinks, and mailbox names are checked by the protocol layer
//! (`address::mailbox_name`) before they get here.

use crate::groupsync::GroupSync;
use crate::sys::AtomicU64;
use crate::{sys, warn};
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;
/// Past this many mailboxes, the group-commit table drops the entries no
/// delivery is using before it adds one.
const SYNC_TABLE_PRUNE_AT: usize = 256;
/// At most this many file systems' orders are remembered (mailboxes on
/// more devices than that are looked up each time).
const ORDER_TABLE_MAX: usize = 64;

// ---------------------------------------------------------------- durable order

/// The order of a copy's durable steps (README, "Durable delivery"), picked
/// per file system. Either way the 250 waits for both the file's fsync and
/// `new/`'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// fsync the file, close, link into `new/`, fsync `new/`: the file is
    /// durable before its name exists. Two journal commits on a journaled
    /// file system; safe on any file system whose fsync works.
    FsyncFirst,
    /// Write the file out and wait (`sync_file_range`: its data on the
    /// device, its blocks allocated), link into `new/`, fsync the file,
    /// close, fsync `new/`. The data is on the device before the name
    /// exists; the file's fsync commits the journal transaction that holds
    /// the link (the link changed the inode), so `new/`'s fsync finds
    /// nothing left: one commit. Only where a journal commit covers every
    /// metadata change before it, in order: ext4 with a journal in
    /// data=ordered or data=writeback mode, XFS.
    WriteOutFirst,
}

const EXT4_MAGIC: u32 = 0xEF53;
const XFS_MAGIC: u32 = 0x5846_5342;

/// A file system's name from its `f_type`, for the log.
fn fs_name(kind: u32) -> String {
    match kind {
        EXT4_MAGIC => "ext4".into(),
        XFS_MAGIC => "xfs".into(),
        0x9123_683E => "btrfs".into(),
        0x0102_1994 => "tmpfs".into(),
        0xF2F5_2010 => "f2fs".into(),
        0x6969 => "nfs".into(),
        0x794C_7630 => "overlayfs".into(),
        0x6573_5546 => "fuse".into(),
        0x4d44 => "vfat".into(),
        0x2FC1_2FC1 => "zfs".into(),
        other => format!("file system type {other:#x}"),
    }
}

/// The `data=` mode of a mounted ext4 from its `/proc/fs/ext4/DEV/options`
/// text: "ordered", "writeback" or "journal"; None without a journal (the
/// kernel then lists no `data=` line).
fn ext4_data_mode(options: &str) -> Option<&str> {
    options.lines().find_map(|l| l.trim().strip_prefix("data="))
}

/// `/proc/fs/ext4/NAME/options` of the block device (major, minor).
fn ext4_options(major: u32, minor: u32) -> Option<String> {
    let link = std::fs::read_link(format!("/sys/dev/block/{major}:{minor}")).ok()?;
    let name = link.file_name()?.to_str()?.to_string();
    std::fs::read_to_string(format!("/proc/fs/ext4/{name}/options")).ok()
}

/// The order for the file system `dir` is on, and why, for the log. What
/// cannot be determined gets `FsyncFirst`.
pub fn order_for(dir: BorrowedFd<'_>) -> (Order, String) {
    let kind = match sys::fs_type(dir) {
        Ok(k) => k,
        Err(e) => return (Order::FsyncFirst, format!("unknown file system ({e})")),
    };
    let mode = match kind {
        EXT4_MAGIC => {
            let options = sys::device_of(dir)
                .ok()
                .and_then(|(ma, mi)| ext4_options(ma, mi));
            match options.as_deref().map(ext4_data_mode) {
                Some(Some(m @ ("ordered" | "writeback"))) => {
                    Ok(format!("ext4, journaled, data={m}"))
                }
                Some(Some(m)) => Err(format!("ext4, journaled, data={m}")),
                Some(None) => Err("ext4 without a journal".to_string()),
                None => Err("ext4, mount options unreadable".to_string()),
            }
        }
        XFS_MAGIC => Ok("xfs".to_string()),
        other => Err(fs_name(other)),
    };
    match mode {
        Ok(what) => (
            Order::WriteOutFirst,
            format!(
                "{what}: each message written out, linked into new/, then fsynced (one journal commit)"
            ),
        ),
        Err(what) => (
            Order::FsyncFirst,
            format!("{what}: each message fsynced before it is linked into new/"),
        ),
    }
}

/// The step at which storage failed, for logs and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Making `MAILBOX/{tmp,new,cur}` ready; `StoreError::dir` says
    /// which call failed on which directory.
    Mkdir,
    Create,
    Write,
    Fsync,
    Close,
    Link,
    FsyncDir,
}

/// The call that failed while a mailbox's directories were made ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirCall {
    Open,
    Mkdir,
    Fsync,
}

impl DirCall {
    fn name(self) -> &'static str {
        match self {
            DirCall::Open => "open",
            DirCall::Mkdir => "mkdir",
            DirCall::Fsync => "fsync",
        }
    }
}

/// The spool root as `StoreError::dir`'s directory.
const ROOT: &str = ".";

#[derive(Debug)]
pub struct StoreError {
    pub step: Step,
    pub mailbox: String,
    /// For step `Mkdir`: the call that failed and its directory, relative
    /// to the mailbox ("" the mailbox itself, "tmp", "new", "cur"; `ROOT`
    /// the spool root).
    pub dir: Option<(DirCall, &'static str)>,
    pub source: io::Error,
}

impl StoreError {
    /// Disk full or over quota: worth a 452 rather than a 451.
    pub fn is_no_space(&self) -> bool {
        matches!(
            self.source.raw_os_error(),
            Some(libc::ENOSPC) | Some(libc::EDQUOT)
        )
    }
}

/// Wraps an I/O error with the step and mailbox it happened at.
fn at(step: Step, mailbox: &str) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError {
        step,
        mailbox: mailbox.to_string(),
        dir: None,
        source,
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (m, e) = (&self.mailbox, &self.source);
        match self.dir {
            None => write!(f, "{:?} failed for mailbox {m}: {e}", self.step),
            Some((call, ROOT)) => {
                write!(
                    f,
                    "{} of the spool failed for mailbox {m}: {e}",
                    call.name()
                )
            }
            Some((call, "")) => write!(f, "{} {m} failed for mailbox {m}: {e}", call.name()),
            Some((call, sub)) => {
                write!(f, "{} {m}/{sub} failed for mailbox {m}: {e}", call.name())
            }
        }
    }
}

/// The spool root, kept open for the process's life.
pub struct Spool {
    root: OwnedFd,
    /// The root as an absolute path, for hooks (TINYMX_FILE) and the
    /// startup scan.
    root_path: std::path::PathBuf,
    /// One group commit per mailbox's new/ (see `groupsync`).
    syncs: Mutex<HashMap<String, Arc<GroupSync>>>,
    /// Host name made safe for a file name (Maildir: `/` → `\057`, `:` → `\072`).
    host: String,
    pid: u32,
    seq: AtomicU64,
    /// The order picked for each file system seen, by device number.
    orders: Mutex<Vec<((u32, u32), Order)>>,
    /// The spool root's order and why, for the start-up log.
    durability: String,
    /// Tests pick the order instead of the file system.
    forced: Option<Order>,
}

impl Spool {
    /// Opens the spool root, creating it (and its parents) with mode 0700
    /// if missing. Returns whether it was created.
    pub fn open(path: &Path, hostname: &str) -> io::Result<(Spool, bool)> {
        use std::os::unix::fs::DirBuilderExt;
        let created = match std::fs::DirBuilder::new()
            .recursive(false)
            .mode(DIR_MODE)
            .create(path)
        {
            Ok(()) => true,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(DIR_MODE)
                    .create(path)?;
                true
            }
            Err(e) => return Err(e),
        };
        let root = sys::open_dir(path)?;
        let root_path = std::path::absolute(path)?;
        let host = hostname.replace('/', "\\057").replace(':', "\\072");
        let (order, why) = order_for(root.as_fd());
        let orders = sys::device_of(root.as_fd())
            .map(|dev| vec![(dev, order)])
            .unwrap_or_default();
        Ok((
            Spool {
                root,
                root_path,
                syncs: Mutex::new(HashMap::new()),
                host,
                pid: sys::getpid(),
                seq: AtomicU64::new(0),
                orders: Mutex::new(orders),
                durability: format!("spool on {why}"),
                forced: None,
            },
            created,
        ))
    }

    /// The spool root's file system and the order picked for it.
    pub fn durability(&self) -> &str {
        &self.durability
    }

    /// Makes every delivery use `order`, whatever the file system (tests).
    pub fn force_order(&mut self, order: Order) {
        self.forced = Some(order);
    }

    /// The order for a mailbox whose `new/` is `dir`: its file system's,
    /// remembered by device.
    fn order_at(&self, dir: &OwnedFd) -> Order {
        if let Some(o) = self.forced {
            return o;
        }
        let Ok(dev) = sys::device_of(dir.as_fd()) else {
            return Order::FsyncFirst;
        };
        let mut known = self.orders.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&(_, o)) = known.iter().find(|(d, _)| *d == dev) {
            return o;
        }
        let (o, _) = order_for(dir.as_fd());
        if known.len() < ORDER_TABLE_MAX {
            known.push((dev, o));
        }
        o
    }

    /// Gives the spool root to `uid:gid` (used with `--user` when tinymx
    /// created the root itself, before dropping privileges).
    pub fn chown(&self, uid: u32, gid: u32) -> io::Result<()> {
        sys::fchown(self.root.as_fd(), uid, gid)
    }

    /// The group commit for `mailbox/new/`. The table keeps entries only
    /// while in use once it holds many (any number of mailbox names may
    /// come and go), so its size stays bounded.
    fn dir_sync(&self, mailbox: &str) -> Arc<GroupSync> {
        let mut syncs = self.syncs.lock().unwrap_or_else(|p| p.into_inner());
        if syncs.len() >= SYNC_TABLE_PRUNE_AT && !syncs.contains_key(mailbox) {
            syncs.retain(|_, g| Arc::strong_count(g) > 1);
        }
        Arc::clone(syncs.entry(mailbox.to_string()).or_default())
    }

    /// Creates and removes a file in the spool root, as the first message
    /// to a new mailbox will (mkdir there needs the same rights). Run at
    /// start-up as the final user: a spool that user cannot write (owned
    /// by root with mode 0700 under `--user nobody`, a read-only mount)
    /// would otherwise show only as a 451 on every DATA. The name starts
    /// with a dot, which no mailbox name does.
    pub fn probe(&self) -> io::Result<()> {
        let name = format!(".tinymx-probe.{}", self.pid);
        let file = match sys::create_excl_at(self.root.as_fd(), &name, FILE_MODE) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // Left by an earlier run with the same pid that died here.
                sys::unlink_at(self.root.as_fd(), &name)?;
                sys::create_excl_at(self.root.as_fd(), &name, FILE_MODE)?
            }
            r => r?,
        };
        drop(file);
        sys::unlink_at(self.root.as_fd(), &name)
    }

    /// Free bytes on the spool's file system.
    pub fn free_bytes(&self) -> io::Result<u64> {
        sys::free_bytes(self.root.as_fd())
    }

    /// Startup recovery (Maildir rule): files in any `MAILBOX/tmp/` whose
    /// last change is older than `max_age` were left by a crash and are
    /// removed; younger ones may belong to another live instance sharing
    /// the spool and are left alone. Returns (removed, kept); what cannot
    /// be read or removed is logged with its cause (and counted as kept
    /// when it is a file).
    pub fn remove_stale_tmp(&self, max_age: std::time::Duration) -> (usize, usize) {
        let Some(cutoff) = SystemTime::now().checked_sub(max_age) else {
            return (0, 0);
        };
        let root = self.root_path.display();
        let names = match sys::read_dir_names(self.root.as_fd()) {
            Ok(names) => names,
            Err(e) => {
                warn!("startup: cannot read the spool {root}: {e}");
                return (0, 0);
            }
        };
        let (mut removed, mut kept) = (0, 0);
        for name in names {
            match self.tmp_dir(&name) {
                Ok(Some(tmp)) => {
                    let (r, k) = remove_old_files(&tmp, cutoff, &format!("{root}/{name}/tmp"));
                    removed += r;
                    kept += k;
                }
                Ok(None) => {}
                Err((what, e)) => warn!("startup: cannot {what} {root}/{name}: {e}"),
            }
        }
        (removed, kept)
    }

    /// `name/tmp` under the root, if `name` is a real directory (a
    /// symlinked mailbox is not followed) with a `tmp` directory; on error
    /// the step that failed.
    fn tmp_dir(&self, name: &str) -> Result<Option<OwnedFd>, (&'static str, io::Error)> {
        match sys::stat_at(self.root.as_fd(), name) {
            Ok(st) if st.is_dir => {}
            // Not a mailbox, or gone since the directory was read.
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(("stat", e)),
        }
        let mbox = sys::open_dir_at(self.root.as_fd(), name).map_err(|e| ("open", e))?;
        match sys::open_dir_at(mbox.as_fd(), "tmp") {
            Ok(tmp) => Ok(Some(tmp)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(("open tmp/ in", e)),
        }
    }

    /// A unique file name: `SECONDS.MmicrosPpidQseq.HOST`.
    fn unique_name(&self) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        format!(
            "{}.M{}P{}Q{}.{}",
            now.as_secs(),
            now.subsec_micros(),
            self.pid,
            seq,
            self.host
        )
    }

    /// Opens `name` under `dir`, creating it with mode 0700 if missing;
    /// on error, the call that failed.
    fn dir_at(
        &self,
        dir: &OwnedFd,
        name: &str,
        created: &mut bool,
    ) -> Result<OwnedFd, (DirCall, io::Error)> {
        match sys::open_dir_at(dir.as_fd(), name) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fault(Step::Mkdir).map_err(|e| (DirCall::Mkdir, e))?;
                match sys::mkdir_at(dir.as_fd(), name, DIR_MODE) {
                    Ok(()) => *created = true,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err((DirCall::Mkdir, e)),
                }
                sys::open_dir_at(dir.as_fd(), name).map_err(|e| (DirCall::Open, e))
            }
            other => other.map_err(|e| (DirCall::Open, e)),
        }
    }

    /// Makes `MAILBOX/{tmp,new,cur}` exist; returns (tmp, new) descriptors.
    fn mailbox_dirs(&self, mailbox: &str) -> Result<(OwnedFd, OwnedFd), StoreError> {
        let fail = |sub: &'static str| {
            move |(call, source): (DirCall, io::Error)| StoreError {
                step: Step::Mkdir,
                mailbox: mailbox.to_string(),
                dir: Some((call, sub)),
                source,
            }
        };
        let synced = |fd: &OwnedFd| sys::fsync(fd.as_fd()).map_err(|e| (DirCall::Fsync, e));
        let mut created_box = false;
        let mbox = self
            .dir_at(&self.root, mailbox, &mut created_box)
            .map_err(fail(""))?;
        let mut created = false;
        let tmp = self
            .dir_at(&mbox, "tmp", &mut created)
            .map_err(fail("tmp"))?;
        let new = self
            .dir_at(&mbox, "new", &mut created)
            .map_err(fail("new"))?;
        let _cur = self
            .dir_at(&mbox, "cur", &mut created)
            .map_err(fail("cur"))?;
        // New directory entries must survive a crash too.
        if created {
            synced(&mbox).map_err(fail(""))?;
        }
        if created_box {
            synced(&self.root).map_err(fail(ROOT))?;
        }
        Ok((tmp, new))
    }

    /// Starts a delivery of one message to each of `mailboxes`: creates
    /// the tmp files. Nothing is visible in any `new/` yet.
    pub fn begin(&self, mailboxes: &[&str]) -> Result<Delivery<'_>, StoreError> {
        let mut d = Delivery {
            spool: self,
            copies: Vec::with_capacity(mailboxes.len()),
        };
        for &mailbox in mailboxes {
            let (tmp_dir, new_dir) = self.mailbox_dirs(mailbox)?;
            let order = self.order_at(&new_dir);
            let (name, file) = loop {
                let name = self.unique_name();
                fault(Step::Create).map_err(at(Step::Create, mailbox))?;
                match sys::create_excl_at(tmp_dir.as_fd(), &name, FILE_MODE) {
                    Ok(f) => break (name, f),
                    // Another instance on a shared spool chose this name: try the next.
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(at(Step::Create, mailbox)(e)),
                }
            };
            d.copies.push(Copy {
                mailbox: mailbox.to_string(),
                tmp_dir,
                new_dir,
                name,
                file: Some(file),
                state: CopyState::InTmp,
                order,
            });
        }
        Ok(d)
    }
}

/// Removes the regular files in `tmp` last changed before `cutoff`;
/// returns (removed, kept). `shown` names the directory in log lines.
fn remove_old_files(tmp: &OwnedFd, cutoff: SystemTime, shown: &str) -> (usize, usize) {
    let names = match sys::read_dir_names(tmp.as_fd()) {
        Ok(names) => names,
        Err(e) => {
            warn!("startup: cannot read {shown}: {e}");
            return (0, 0);
        }
    };
    let (mut removed, mut kept) = (0, 0);
    for name in names {
        let st = match sys::stat_at(tmp.as_fd(), &name) {
            Ok(st) => st,
            // Delivered or removed by another instance since the read.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                warn!("startup: cannot stat {shown}/{name}: {e}");
                continue;
            }
        };
        if !(st.is_file && st.modified < cutoff) {
            kept += 1;
            continue;
        }
        match sys::unlink_at(tmp.as_fd(), &name) {
            Ok(()) => removed += 1,
            Err(e) => {
                warn!("startup: cannot remove {shown}/{name}: {e}");
                kept += 1;
            }
        }
    }
    (removed, kept)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CopyState {
    InTmp,
    /// Removed from tmp/ on purpose (a filter handled it): not published.
    Dropped,
    Linked,
    Done,
}

struct Copy {
    mailbox: String,
    tmp_dir: OwnedFd,
    new_dir: OwnedFd,
    name: String,
    file: Option<File>,
    state: CopyState,
    order: Order,
}

impl Copy {
    /// fsyncs and closes (checked) the copy's file, if it is still open.
    fn fsync_and_close(&mut self) -> Result<(), StoreError> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        fault(Step::Fsync)
            .and_then(|()| file.sync_all())
            .map_err(at(Step::Fsync, &self.mailbox))?;
        fault(Step::Close)
            .and_then(|()| sys::close_checked(file))
            .map_err(at(Step::Close, &self.mailbox))
    }
}

/// A message being written to one or more mailboxes. Dropping it without
/// a successful `commit` removes every trace of it.
pub struct Delivery<'s> {
    spool: &'s Spool,
    copies: Vec<Copy>,
}

impl Delivery<'_> {
    /// Appends to copy `i` only (its own header lines).
    pub fn write_to(&mut self, i: usize, bytes: &[u8]) -> Result<(), StoreError> {
        let c = &mut self.copies[i];
        let file = c.file.as_mut().expect("write after commit");
        fault(Step::Write)
            .and_then(|()| file.write_all(bytes))
            .map_err(at(Step::Write, &c.mailbox))
    }

    /// Appends to every copy.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        for i in 0..self.copies.len() {
            self.write_to(i, bytes)?;
        }
        Ok(())
    }

    /// Puts `head` in front of copy `i`, for header fields known only
    /// after the final dot (the DKIM and DMARC results): a new tmp file
    /// gets `head` and then the old one's bytes (`sys::copy_all`: in the
    /// kernel, no fsync of the old file, which is unlinked at once), and
    /// takes the old one's place. Before `prepare`.
    pub fn prepend(&mut self, i: usize, head: &[u8]) -> Result<(), StoreError> {
        let spool = self.spool;
        let c = &mut self.copies[i];
        let old = c.file.take().expect("prepend after prepare");
        let (name, mut file) = loop {
            let name = spool.unique_name();
            fault(Step::Create).map_err(at(Step::Create, &c.mailbox))?;
            match sys::create_excl_at(c.tmp_dir.as_fd(), &name, FILE_MODE) {
                Ok(f) => break (name, f),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    c.file = Some(old);
                    return Err(at(Step::Create, &c.mailbox)(e));
                }
            }
        };
        let copied = fault(Step::Write)
            .and_then(|()| file.write_all(head))
            .and_then(|()| sys::copy_all(old.as_fd(), file.as_fd()).map(|_| ()));
        // Whichever file is not kept is removed now.
        let (keep_name, keep_file, gone) = match copied {
            Ok(()) => (name, file, std::mem::take(&mut c.name)),
            Err(e) => {
                drop(file);
                let _ = sys::unlink_at(c.tmp_dir.as_fd(), &name);
                c.file = Some(old);
                return Err(at(Step::Write, &c.mailbox)(e));
            }
        };
        drop(old);
        let _ = sys::unlink_at(c.tmp_dir.as_fd(), &gone);
        c.name = keep_name;
        c.file = Some(keep_file);
        Ok(())
    }

    /// Makes every copy durable in its `new/`. On success returns the
    /// stored names as `MAILBOX/new/NAME`. (The driver uses `prepare` and
    /// `publish` so a filter can run in between; tests use this.)
    #[cfg(test)]
    pub fn commit(mut self) -> Result<Vec<String>, StoreError> {
        self.prepare()?;
        Ok(self.publish()?.into_iter().map(|(_, n)| n).collect())
    }

    /// The number of copies (one per mailbox).
    pub fn len(&self) -> usize {
        self.copies.len()
    }

    /// Whether the delivery has no copy (it was begun for no mailbox).
    pub fn is_empty(&self) -> bool {
        self.copies.is_empty()
    }

    pub fn mailbox(&self, i: usize) -> &str {
        &self.copies[i].mailbox
    }

    /// Absolute path of copy `i` in `tmp/` (for `--filter`).
    pub fn tmp_path(&self, i: usize) -> std::path::PathBuf {
        let c = &self.copies[i];
        self.spool
            .root_path
            .join(&c.mailbox)
            .join("tmp")
            .join(&c.name)
    }

    /// Step one of two: fsyncs and closes every tmp file whose order is
    /// `FsyncFirst` (`WriteOutFirst` copies are made durable by `publish`).
    /// The copies are complete in `tmp/`, nothing is in `new/` yet.
    pub fn prepare(&mut self) -> Result<(), StoreError> {
        for c in &mut self.copies {
            if c.order != Order::FsyncFirst {
                continue;
            }
            c.fsync_and_close()?;
        }
        Ok(())
    }

    /// Leaves copy `i` out: its tmp file is removed and it is not published.
    pub fn drop_copy(&mut self, i: usize) {
        let c = &mut self.copies[i];
        c.file = None;
        let _ = sys::unlink_at(c.tmp_dir.as_fd(), &c.name);
        c.state = CopyState::Dropped;
    }

    /// Step two, after `prepare`: links every copy not dropped into its
    /// `new/`, fsyncs the directories, removes the tmp names. All or
    /// nothing: on an error, dropping `self` unlinks what was linked.
    /// Returns (copy index, `MAILBOX/new/NAME`) for each published copy.
    pub fn publish(mut self) -> Result<Vec<(usize, String)>, StoreError> {
        for c in &mut self.copies {
            if c.state != CopyState::InTmp {
                continue;
            }
            assert!(
                c.file.is_none() || c.order == Order::WriteOutFirst,
                "publish before prepare"
            );
            // WriteOutFirst: the data reaches the device (and a filter's
            // changes with it) before the name exists.
            if let Some(file) = &c.file {
                fault(Step::Fsync)
                    .and_then(|()| sys::write_out(file.as_fd()))
                    .map_err(at(Step::Fsync, &c.mailbox))?;
            }
            fault(Step::Link)
                .and_then(|()| sys::link_at(c.tmp_dir.as_fd(), &c.name, c.new_dir.as_fd(), &c.name))
                .map_err(at(Step::Link, &c.mailbox))?;
            c.state = CopyState::Linked;
        }
        // WriteOutFirst: the file's fsync commits the link with it.
        for c in &mut self.copies {
            if c.state != CopyState::Linked {
                continue;
            }
            c.fsync_and_close()?;
        }
        for c in self.copies.iter().filter(|c| c.state == CopyState::Linked) {
            // Shared with deliveries into the same new/ that finish meanwhile.
            let group = self.spool.dir_sync(&c.mailbox);
            fault(Step::FsyncDir)
                .and_then(|()| group.sync(c.new_dir.as_fd(), sys::fsync))
                .map_err(at(Step::FsyncDir, &c.mailbox))?;
        }
        let mut names = Vec::with_capacity(self.copies.len());
        for (i, c) in self.copies.iter_mut().enumerate() {
            if c.state != CopyState::Linked {
                continue;
            }
            // Durable in new/ now; the tmp name is only clutter.
            let _ = sys::unlink_at(c.tmp_dir.as_fd(), &c.name);
            c.state = CopyState::Done;
            names.push((i, format!("{}/new/{}", c.mailbox, c.name)));
        }
        Ok(names)
    }

    /// `publish`, with each copy's absolute path in new/ too.
    pub fn publish_with_paths(
        self,
    ) -> Result<Vec<(usize, String, std::path::PathBuf)>, StoreError> {
        let root = self.spool.root_path.clone();
        Ok(self
            .publish()?
            .into_iter()
            .map(|(i, n)| {
                let p = root.join(&n);
                (i, n, p)
            })
            .collect())
    }
}

impl Drop for Delivery<'_> {
    /// Rolls back an unfinished delivery: unlinks what reached `new/`
    /// (then fsyncs it, so the removal is durable too) and every tmp file.
    fn drop(&mut self) {
        for c in &mut self.copies {
            if c.state == CopyState::Linked {
                let _ = sys::unlink_at(c.new_dir.as_fd(), &c.name);
                let _ = sys::fsync(c.new_dir.as_fd());
            }
            if c.state != CopyState::Done && c.state != CopyState::Dropped {
                c.file = None;
                let _ = sys::unlink_at(c.tmp_dir.as_fd(), &c.name);
            }
        }
    }
}

// ---------------------------------------------------------------- fault injection

/// In unit tests, `fail_at(step, n)` makes the n-th (0-based) occurrence of
/// `step` on this thread fail with `errno`; in the real binary this is a
/// no-op the compiler removes.
#[cfg(not(test))]
#[inline(always)]
fn fault(_step: Step) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
thread_local! {
    static FAULT: std::cell::Cell<Option<(Step, u32, i32)>> = const { std::cell::Cell::new(None) };
}

#[cfg(test)]
fn fault(step: Step) -> io::Result<()> {
    FAULT.with(|f| match f.get() {
        Some((s, 0, errno)) if s == step => {
            f.set(None);
            Err(io::Error::from_raw_os_error(errno))
        }
        Some((s, n, errno)) if s == step => {
            f.set(Some((s, n - 1, errno)));
            Ok(())
        }
        _ => Ok(()),
    })
}

#[cfg(test)]
pub fn fail_at(step: Step, n: u32, errno: i32) {
    FAULT.with(|f| f.set(Some((step, n, errno))));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn spool() -> (tempdir::TempDir, Spool) {
        let dir = tempdir::TempDir::new();
        let (s, created) = Spool::open(&dir.path().join("spool"), "host:with/odd").unwrap();
        assert!(created);
        (dir, s)
    }

    fn files(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect(),
            Err(_) => vec![],
        };
        v.sort();
        v
    }

    #[test]
    fn delivers_to_every_mailbox_with_private_modes() {
        let (dir, s) = spool();
        let mut d = s.begin(&["alice", "bob"]).unwrap();
        d.write_to(0, b"H: a\n").unwrap();
        d.write_to(1, b"H: b\n").unwrap();
        d.write_all(b"\nbody\n").unwrap();
        let names = d.commit().unwrap();
        let root = dir.path().join("spool");
        assert_eq!(
            std::fs::metadata(&root).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for (i, mb) in ["alice", "bob"].iter().enumerate() {
            let new = files(&root.join(mb).join("new"));
            assert_eq!(new.len(), 1);
            assert_eq!(names[i], format!("{mb}/new/{}", new[0]));
            assert!(new[0].ends_with(".host\\072with\\057odd"), "{}", new[0]);
            assert!(files(&root.join(mb).join("tmp")).is_empty());
            assert!(root.join(mb).join("cur").is_dir());
            let path = root.join(&names[i]);
            let want = if i == 0 {
                "H: a\n\nbody\n"
            } else {
                "H: b\n\nbody\n"
            };
            assert_eq!(std::fs::read_to_string(&path).unwrap(), want);
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
            for sub in ["", "tmp", "new", "cur"] {
                let m = std::fs::metadata(root.join(mb).join(sub))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777;
                assert_eq!(m, 0o700, "{mb}/{sub}");
            }
        }
    }

    #[test]
    fn prepare_then_publish_with_a_dropped_copy() {
        let (dir, s) = spool();
        let mut d = s.begin(&["a", "b"]).unwrap();
        d.write_all(b"msg").unwrap();
        d.prepare().unwrap();
        let root = dir.path().join("spool");
        // Durable in tmp/, nothing in new/ yet; the tmp path is absolute.
        let tmp_a = d.tmp_path(0);
        assert!(tmp_a.is_absolute());
        assert_eq!(std::fs::read(&tmp_a).unwrap(), b"msg");
        assert!(files(&root.join("a/new")).is_empty());
        d.drop_copy(1);
        let published = d.publish().unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].0, 0);
        assert_eq!(files(&root.join("a/new")).len(), 1);
        assert!(files(&root.join("a/tmp")).is_empty());
        assert!(files(&root.join("b/new")).is_empty());
        assert!(files(&root.join("b/tmp")).is_empty());
    }

    #[test]
    fn prepend_puts_fields_in_front_and_leaves_one_tmp_file() {
        let (dir, s) = spool();
        let mut d = s.begin(&["a", "b"]).unwrap();
        d.write_to(0, b"T: a\n").unwrap();
        d.write_to(1, b"T: b\n").unwrap();
        // More than the fallback's 16 KiB buffer.
        let body: Vec<u8> = (0..40_000u32).map(|i| b'a' + (i % 26) as u8).collect();
        d.write_all(&body).unwrap();
        d.prepend(0, b"A-R: 1\n").unwrap();
        d.prepend(1, b"A-R: 2\n").unwrap();
        d.prepend(1, b"X: 0\n").unwrap();
        let root = dir.path().join("spool");
        assert_eq!(files(&root.join("b/tmp")).len(), 1);
        let names = d.commit().unwrap();
        let a = std::fs::read(root.join(&names[0])).unwrap();
        let b = std::fs::read(root.join(&names[1])).unwrap();
        assert_eq!(&a[..12], b"A-R: 1\nT: a\n");
        assert_eq!(&b[..17], b"X: 0\nA-R: 2\nT: b\n");
        assert_eq!(&a[12..], &body[..]);
        assert_eq!(&b[17..], &body[..]);
        assert!(files(&root.join("a/tmp")).is_empty());
        assert!(files(&root.join("b/tmp")).is_empty());
    }

    #[test]
    fn a_failed_prepend_keeps_the_copy_as_it_was() {
        let (dir, s) = spool();
        let mut d = s.begin(&["a"]).unwrap();
        d.write_all(b"msg").unwrap();
        fail_at(Step::Write, 0, libc::ENOSPC);
        assert!(d.prepend(0, b"H: x\n").unwrap_err().is_no_space());
        let root = dir.path().join("spool");
        assert_eq!(files(&root.join("a/tmp")).len(), 1);
        let names = d.commit().unwrap();
        assert_eq!(std::fs::read(root.join(&names[0])).unwrap(), b"msg");
    }

    #[test]
    fn prepared_but_unpublished_delivery_leaves_nothing() {
        let (dir, s) = spool();
        let mut d = s.begin(&["a"]).unwrap();
        d.write_all(b"msg").unwrap();
        d.prepare().unwrap();
        drop(d);
        assert!(files(&dir.path().join("spool/a/new")).is_empty());
        assert!(files(&dir.path().join("spool/a/tmp")).is_empty());
    }

    #[test]
    fn names_are_unique() {
        let (dir, s) = spool();
        for _ in 0..50 {
            let mut d = s.begin(&["a"]).unwrap();
            d.write_all(b"x").unwrap();
            d.commit().unwrap();
        }
        assert_eq!(files(&dir.path().join("spool/a/new")).len(), 50);
    }

    #[test]
    fn dropped_delivery_leaves_nothing() {
        let (dir, s) = spool();
        let mut d = s.begin(&["a", "b"]).unwrap();
        d.write_all(b"partial").unwrap();
        drop(d);
        for mb in ["a", "b"] {
            assert!(files(&dir.path().join("spool").join(mb).join("new")).is_empty());
            assert!(files(&dir.path().join("spool").join(mb).join("tmp")).is_empty());
        }
    }

    /// A failure at any step of any copy leaves no file in any new/ or tmp/,
    /// in either order of the durable steps.
    #[test]
    fn failure_at_any_step_is_all_or_nothing() {
        for order in [Order::FsyncFirst, Order::WriteOutFirst] {
            failure_at_any_step_is_all_or_nothing_in(order);
        }
    }

    fn failure_at_any_step_is_all_or_nothing_in(order: Order) {
        for step in [
            Step::Create,
            Step::Write,
            Step::Fsync,
            Step::Close,
            Step::Link,
            Step::FsyncDir,
        ] {
            for n in 0..3 {
                let (dir, mut s) = spool();
                s.force_order(order);
                fail_at(step, n, libc::EIO);
                let result = s.begin(&["a", "b", "c"]).and_then(|mut d| {
                    d.write_all(b"x")?;
                    d.commit()
                });
                let err = result.expect_err(&format!("{order:?}: {step:?} #{n} should fail"));
                assert_eq!(err.step, step);
                assert!(!err.is_no_space());
                for mb in ["a", "b", "c"] {
                    let base = dir.path().join("spool").join(mb);
                    assert!(
                        files(&base.join("new")).is_empty(),
                        "{step:?} #{n}: {mb}/new"
                    );
                    assert!(
                        files(&base.join("tmp")).is_empty(),
                        "{step:?} #{n}: {mb}/tmp"
                    );
                }
                // The next message works.
                let mut d = s.begin(&["a"]).unwrap();
                d.write_all(b"ok").unwrap();
                d.commit().unwrap();
            }
        }
    }

    #[test]
    fn disk_full_is_reported_as_no_space() {
        let (_dir, s) = spool();
        fail_at(Step::Write, 0, libc::ENOSPC);
        let mut d = s.begin(&["a"]).unwrap();
        let err = d.write_all(b"x").unwrap_err();
        assert!(err.is_no_space());
        fail_at(Step::Write, 0, libc::EDQUOT);
        assert!(d.write_all(b"x").unwrap_err().is_no_space());
    }

    #[test]
    fn a_symlinked_mailbox_is_not_followed() {
        let (dir, s) = spool();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, dir.path().join("spool/evil")).unwrap();
        let err = s
            .begin(&["evil"])
            .err()
            .expect("symlink must not be followed");
        assert_eq!(err.step, Step::Mkdir);
        assert!(files(&outside).is_empty());
    }

    #[test]
    fn a_mailbox_directory_failure_names_the_call_and_directory() {
        let (dir, s) = spool();
        std::fs::write(dir.path().join("spool/file"), b"").unwrap();
        let err = s.begin(&["file"]).err().expect("a file is no mailbox");
        assert_eq!(err.dir, Some((DirCall::Open, "")));
        assert!(
            err.to_string()
                .starts_with("open file failed for mailbox file: "),
            "{err}"
        );
        std::fs::create_dir_all(dir.path().join("spool/bob/tmp")).unwrap();
        fail_at(Step::Mkdir, 0, libc::EACCES);
        let err = s.begin(&["bob"]).err().expect("mkdir new/ fails");
        assert_eq!(
            (err.step, err.dir),
            (Step::Mkdir, Some((DirCall::Mkdir, "new")))
        );
        assert!(
            err.to_string()
                .starts_with("mkdir bob/new failed for mailbox bob: "),
            "{err}"
        );
    }

    #[test]
    fn stale_tmp_files_are_removed_and_young_ones_kept() {
        let (dir, s) = spool();
        let root = dir.path().join("spool");
        drop(s.begin(&["bob"]).unwrap());
        let old = std::fs::File::create(root.join("bob/tmp/old")).unwrap();
        let hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        old.set_modified(hour_ago).unwrap();
        std::fs::write(root.join("bob/tmp/young"), b"x").unwrap();
        std::fs::create_dir(root.join("bob/tmp/subdir")).unwrap();
        // A symlinked mailbox is not walked into.
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(outside.join("tmp")).unwrap();
        let theirs = std::fs::File::create(outside.join("tmp/theirs")).unwrap();
        theirs.set_modified(hour_ago).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("evil")).unwrap();
        std::fs::write(root.join("not-a-mailbox"), b"").unwrap();
        let minute = std::time::Duration::from_secs(60);
        assert_eq!(s.remove_stale_tmp(minute), (1, 2));
        assert_eq!(files(&root.join("bob/tmp")), ["subdir", "young"]);
        assert_eq!(files(&outside.join("tmp")), ["theirs"]);
    }

    #[test]
    fn existing_spool_is_reused() {
        let (dir, _s) = spool();
        let (_s2, created) = Spool::open(&dir.path().join("spool"), "h").unwrap();
        assert!(!created);
    }

    /// A minimal self-cleaning temporary directory (no dev-dependencies).
    mod tempdir {
        use std::path::{Path, PathBuf};
        pub struct TempDir(PathBuf);
        impl TempDir {
            pub fn new() -> TempDir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "tinymx-unit-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                TempDir(p)
            }
            pub fn path(&self) -> &Path {
                &self.0
            }
        }
        impl Drop for TempDir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn both_orders_deliver_the_same_bytes_to_every_mailbox() {
        for order in [Order::FsyncFirst, Order::WriteOutFirst] {
            let (dir, mut s) = spool();
            s.force_order(order);
            let mut d = s.begin(&["a", "b"]).unwrap();
            d.write_all(b"Subject: x\r\n\r\nbody\r\n").unwrap();
            let names = d.commit().unwrap();
            assert_eq!(names.len(), 2, "{order:?}");
            for mb in ["a", "b"] {
                let base = dir.path().join("spool").join(mb);
                let new = files(&base.join("new"));
                assert_eq!(new.len(), 1, "{order:?} {mb}");
                assert_eq!(
                    std::fs::read(base.join("new").join(&new[0])).unwrap(),
                    b"Subject: x\r\n\r\nbody\r\n",
                    "{order:?} {mb}"
                );
                assert!(files(&base.join("tmp")).is_empty(), "{order:?} {mb}");
            }
        }
    }

    #[test]
    fn ext4_data_mode_is_read_from_the_options_file() {
        assert_eq!(
            ext4_data_mode("rw\nbsddf\ndata=ordered\nbarrier\n"),
            Some("ordered")
        );
        assert_eq!(ext4_data_mode("rw\ndata=writeback\n"), Some("writeback"));
        assert_eq!(ext4_data_mode("rw\ndata=journal\n"), Some("journal"));
        // No journal: the kernel lists no data= line.
        assert_eq!(ext4_data_mode("rw\nbsddf\ndelalloc\nbarrier\n"), None);
    }

    /// The order follows the file system: tmpfs and an unjournaled disk
    /// keep fsync-first; the spool logs what it picked.
    #[test]
    fn the_spool_says_which_order_it_picked() {
        let (_dir, s) = spool();
        let (order, why) = order_for(s.root.as_fd());
        assert!(
            s.durability().starts_with("spool on "),
            "{}",
            s.durability()
        );
        assert!(s.durability().ends_with(&why), "{}", s.durability());
        match order {
            Order::WriteOutFirst => assert!(why.contains("one journal commit"), "{why}"),
            Order::FsyncFirst => assert!(why.contains("fsynced before it is linked"), "{why}"),
        }
    }
}
