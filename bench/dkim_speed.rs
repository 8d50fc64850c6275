//! `make bench`'s DKIM figures: the tinymx library's own DKIM code timed
//! in one process, with no network and no DNS (the key records come from a
//! file, through the same `txt` closure the server's resolver fills).
//! bench/run.py builds it (`cargo build --release --example dkim_speed`,
//! the shipped binary's profile) and runs it; it is no test and asserts no
//! speed, only that each signature verifies.
//!
//!   dkim_speed hash FILE ROUNDS
//!       FILE (a message body, LF line ends as the spool stores it) through
//!       raw `Sha256` and `dkim::canon::Body` (simple, relaxed), in 16 KiB
//!       pieces as the DATA decoder hands them on; best of ROUNDS, MB/s
//!       (10^6 bytes) of thread CPU time. Prints `hash-raw MBPS HEX`
//!       (HEX: the SHA-256 of FILE, to compare with sha256sum's),
//!       `hash-simple MBPS`, `hash-relaxed MBPS`.
//!   dkim_speed verify DIR ITERS ROUNDS
//!       DIR from bench/dkim_sign.py. The whole verification of rsa.eml and
//!       ed.eml (`Verifier::new`, `update` with the message, `finish` with
//!       the key record: header parsing, body hash, key decoding, header
//!       hash, signature), and the public-key operation alone (rsa.der +
//!       rsa.sig, ed.pub + ed.sig over raw.msg). ITERS per round, best of
//!       ROUNDS, µs of thread CPU time per verification. Prints
//!       `verify-rsa US`, `verify-ed US`, `op-rsa US`, `op-ed US`.
//!   dkim_speed count DIR KIND N
//!       N whole verifications of KIND (rsa, ed, or none: only the set-up),
//!       for callgrind: the difference of two counts ÷ their difference in
//!       N is the instructions per verification.

use std::collections::HashMap;
use std::hint::black_box;
use std::process::exit;

use tinymx::crypto::{ed25519, rsa, sha2::Sha256};
use tinymx::dkim::canon::{Body, Canon};
use tinymx::dkim::verify::{Verdict, Verifier};
use tinymx::spf::Answer;

/// CPU time of this thread in nanoseconds (`sys::thread_cpu_ns`): a
/// preempted thread on a shared machine is not charged for the time
/// others ran.
fn cpu_ns() -> u64 {
    let t = tinymx::sys::thread_cpu_ns();
    assert!(t > 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    t
}

/// The least CPU time, in ns, that one call of `f` took in `rounds` rounds
/// of `iters` calls each.
fn best(rounds: usize, iters: usize, mut f: impl FnMut()) -> f64 {
    let mut least = u64::MAX;
    for _ in 0..rounds.max(1) {
        let t0 = cpu_ns();
        for _ in 0..iters.max(1) {
            f();
        }
        least = least.min(cpu_ns() - t0);
    }
    least as f64 / iters.max(1) as f64
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        eprintln!("dkim_speed: {path}: {e}");
        exit(1)
    })
}

fn number(s: &str) -> usize {
    s.parse().unwrap_or_else(|_| {
        eprintln!("dkim_speed: not a number: {s}");
        exit(2)
    })
}

const PIECE: usize = 16 * 1024;

fn hash(file: &str, rounds: usize) {
    let data = read(file);
    let mbps = |ns: f64| data.len() as f64 / (ns / 1e9) / 1e6;
    let mut digest = [0u8; 32];
    let raw = best(rounds, 1, || {
        let mut h = Sha256::new();
        for p in data.chunks(PIECE) {
            h.update(p);
        }
        digest = black_box(h.finish());
    });
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    println!("hash-raw {:.1} {hex}", mbps(raw));
    for (name, canon) in [("simple", Canon::Simple), ("relaxed", Canon::Relaxed)] {
        let ns = best(rounds, 1, || {
            let mut b = Body::new(canon, None);
            for p in data.chunks(PIECE) {
                b.update(p);
            }
            black_box(b.finish());
        });
        println!("hash-{name} {:.1}", mbps(ns));
    }
}

/// The key records of DIR/zone.txt: name → TXT value.
fn zone(dir: &str) -> HashMap<String, Vec<u8>> {
    let text = read(&format!("{dir}/zone.txt"));
    let mut out = HashMap::new();
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let tab = line
            .iter()
            .position(|&b| b == b'\t')
            .expect("zone.txt: NAME<TAB>VALUE");
        let name = String::from_utf8(line[..tab].to_vec()).expect("zone.txt: an ASCII name");
        out.insert(name.to_ascii_lowercase(), line[tab + 1..].to_vec());
    }
    out
}

/// One whole verification of `msg`: the verdict of its only signature.
fn verify_once(msg: &[u8], zone: &HashMap<String, Vec<u8>>, now: u64) -> Verdict {
    let mut v = Verifier::new(now);
    v.update(msg);
    let out = v.finish(&mut |name| match zone
        .get(name.trim_end_matches('.').to_ascii_lowercase().as_str())
    {
        Some(r) => Answer::Records(vec![r.clone()]),
        None => Answer::NxDomain,
    });
    match out.as_slice() {
        [o] => o.verdict,
        _ => Verdict::PermError,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The message of KIND, after checking that it verifies.
fn message(dir: &str, kind: &str, zone: &HashMap<String, Vec<u8>>) -> Vec<u8> {
    let msg = read(&format!("{dir}/{kind}.eml"));
    let got = verify_once(&msg, zone, now());
    if got != Verdict::Pass {
        eprintln!(
            "dkim_speed: {dir}/{kind}.eml: dkim={}, not pass",
            got.as_str()
        );
        exit(1);
    }
    msg
}

fn verify(dir: &str, iters: usize, rounds: usize) {
    let zone = zone(dir);
    let t = now();
    for kind in ["rsa", "ed"] {
        let msg = message(dir, kind, &zone);
        let ns = best(rounds, iters, || {
            black_box(verify_once(black_box(&msg), &zone, t));
        });
        println!("verify-{kind} {:.1}", ns / 1e3);
    }
    let raw = read(&format!("{dir}/raw.msg"));
    let key = rsa::PublicKey::from_der(&read(&format!("{dir}/rsa.der"))).unwrap_or_else(|e| {
        eprintln!("dkim_speed: {dir}/rsa.der: {e:?}");
        exit(1)
    });
    let sig = read(&format!("{dir}/rsa.sig"));
    let digest = tinymx::crypto::sha2::sha256(&raw);
    if !key.verify_pkcs1_sha256(&digest, &sig) {
        eprintln!("dkim_speed: {dir}/rsa.sig does not verify");
        exit(1);
    }
    let ns = best(rounds, iters, || {
        black_box(key.verify_pkcs1_sha256(black_box(&digest), &sig));
    });
    println!("op-rsa {:.1}", ns / 1e3);
    let (pk, sig) = (
        read(&format!("{dir}/ed.pub")),
        read(&format!("{dir}/ed.sig")),
    );
    if !ed25519::verify(&pk, &raw, &sig) {
        eprintln!("dkim_speed: {dir}/ed.sig does not verify");
        exit(1);
    }
    let ns = best(rounds, iters, || {
        black_box(ed25519::verify(black_box(&pk), &raw, &sig));
    });
    println!("op-ed {:.1}", ns / 1e3);
}

fn count(dir: &str, kind: &str, n: usize) {
    let zone = zone(dir);
    let t = now();
    if kind == "none" {
        black_box(message(dir, "rsa", &zone));
        return;
    }
    let msg = message(dir, kind, &zone);
    for _ in 0..n {
        black_box(verify_once(black_box(&msg), &zone, t));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    match a.as_slice() {
        ["hash", file, rounds] => hash(file, number(rounds)),
        ["verify", dir, iters, rounds] => verify(dir, number(iters), number(rounds)),
        ["count", dir, kind @ ("rsa" | "ed" | "none"), n] => count(dir, kind, number(n)),
        _ => {
            eprintln!(
                "usage: dkim_speed hash FILE ROUNDS | verify DIR ITERS ROUNDS | count DIR rsa|ed|none N"
            );
            exit(2)
        }
    }
}
