//! Verifying the signatures of one message as it streams in (RFC 6376
//! section 6): the header section is kept (up to [`MAX_HEADER_BYTES`]),
//! each signature's body hash is computed while the body arrives, and at
//! the end the keys are fetched and the header hashes checked.

use super::canon::{self, Body};
use super::signature::{self, Algorithm, KeyKind, Signature};
use super::tags;
use crate::crypto::{ed25519, rsa, sha2::Sha256};
use crate::spf::Answer;

/// Signatures verified per message; the rest are reported `neutral`
/// ("not checked"), so a message with a hundred signatures costs five.
pub const MAX_SIGNATURES: usize = 5;

/// The header section kept for the header hashes. Real mail's header
/// sections are a few KiB (a long mailing-list trail reaches 20); a
/// message whose header section is longer gets `permerror` for every
/// signature instead of holding more memory.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// RSA keys shorter than this are not accepted (RFC 8301 section 3.2:
/// verifiers MUST NOT consider them valid); the result is `policy`.
pub const MIN_RSA_BITS: usize = 1024;

/// A result of one signature (RFC 8601 section 2.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Neutral,
    Policy,
    TempError,
    PermError,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Neutral => "neutral",
            Verdict::Policy => "policy",
            Verdict::TempError => "temperror",
            Verdict::PermError => "permerror",
        }
    }
}

/// What one DKIM-Signature field came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub verdict: Verdict,
    /// `d=`, `s=` and the start of `b=` when the signature could be read
    /// that far (for `header.d`, `header.s`, `header.b`).
    pub domain: String,
    pub selector: String,
    pub b: String,
    /// The AUID (`i=`, else `@d=`), for `header.i`.
    pub auid: String,
    pub reason: Option<String>,
}

/// A signature being checked. Its field is parsed again at the end (the
/// header section is kept), so nothing of it is copied meanwhile.
struct Pending {
    /// The field's index among the header fields.
    field: usize,
    /// The body hash, when the signature parsed.
    body: Option<Body>,
}

enum Phase {
    /// Reading the header section; `line_start` after a LF.
    Header {
        line_start: bool,
    },
    Body,
}

/// Fed the message as received (header section and body, after the DATA
/// decoder); [`Verifier::finish`] gives one outcome per signature.
pub struct Verifier {
    phase: Phase,
    header: Vec<u8>,
    too_big: bool,
    pending: Vec<Pending>,
    /// Signatures beyond MAX_SIGNATURES.
    unchecked: Vec<Outcome>,
    now: u64,
}

impl Verifier {
    /// `now`: Unix seconds, for `t=` and `x=`.
    pub fn new(now: u64) -> Verifier {
        Verifier {
            phase: Phase::Header { line_start: true },
            header: Vec::new(),
            too_big: false,
            pending: Vec::new(),
            unchecked: Vec::new(),
            now,
        }
    }

    pub fn update(&mut self, mut bytes: &[u8]) {
        if let Phase::Header { line_start } = &mut self.phase {
            // The header section ends at the first empty line.
            let mut end = None;
            for (i, &b) in bytes.iter().enumerate() {
                match b {
                    b'\n' if *line_start => {
                        end = Some(i + 1);
                        break;
                    }
                    b'\n' => *line_start = true,
                    b'\r' => {}
                    _ => *line_start = false,
                }
            }
            let take = end.unwrap_or(bytes.len());
            let room = MAX_HEADER_BYTES.saturating_sub(self.header.len());
            if take > room {
                self.too_big = true;
            }
            self.header.extend_from_slice(&bytes[..take.min(room)]);
            if end.is_none() {
                return;
            }
            bytes = &bytes[take..];
            self.phase = Phase::Body;
            self.start_body();
        }
        for p in &mut self.pending {
            if let Some(b) = &mut p.body {
                b.update(bytes);
            }
        }
    }

    /// The header section is complete: parse the signatures.
    fn start_body(&mut self) {
        if self.too_big {
            return;
        }
        let fields = fields(&self.header);
        for (i, f) in fields.iter().enumerate() {
            let Some(value) = dkim_value(f) else { continue };
            let sig = signature::parse(value, self.now);
            if self.pending.len() == MAX_SIGNATURES {
                let mut why = String::from("not checked: more than 5 signatures");
                if let Err(e) = &sig {
                    why.push_str(" (");
                    why.push_str(e);
                    why.push(')');
                }
                self.unchecked
                    .push(outcome(Verdict::Neutral, sig.as_ref().ok(), Some(why)));
                continue;
            }
            let body = sig.ok().map(|s| Body::new(s.body_canon, s.length));
            self.pending.push(Pending { field: i, body });
        }
    }

    /// The values (after the colon, folds kept) of the header fields
    /// named `name`, in order: DMARC's From fields.
    pub fn field_values(&self, name_: &str) -> Vec<&[u8]> {
        fields(&self.header)
            .into_iter()
            .filter(|f| name(f).eq_ignore_ascii_case(name_.as_bytes()))
            .map(|f| &f[f.iter().position(|&b| b == b':').map_or(f.len(), |c| c + 1)..])
            .collect()
    }

    /// The end of the message: fetches each key with `txt` (the TXT
    /// records of a name, each one's strings joined) and checks.
    pub fn finish(mut self, txt: &mut dyn FnMut(&str) -> Answer<Vec<Vec<u8>>>) -> Vec<Outcome> {
        if let Phase::Header { .. } = self.phase {
            // No empty line: the whole message is a header section.
            self.phase = Phase::Body;
            self.start_body();
        }
        if self.too_big {
            let n = fields(&self.header)
                .iter()
                .filter(|f| dkim_value(f).is_some())
                .count();
            return (0..n.max(1))
                .map(|_| {
                    outcome(
                        Verdict::PermError,
                        None,
                        Some("header section over 64 KiB".into()),
                    )
                })
                .collect();
        }
        let fields = fields(&self.header);
        let mut out = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            // The same field and `now` as in start_body: the same result.
            let value = dkim_value(fields[p.field]).unwrap_or(b"");
            out.push(match signature::parse(value, self.now) {
                Err(e) => outcome(Verdict::PermError, None, Some(e.into())),
                Ok(sig) => {
                    let body = p.body.map(Body::finish).unwrap_or(([0; 32], 0));
                    let mut o = outcome(Verdict::Pass, Some(&sig), None);
                    if let Err((v, why)) = check(&sig, &o, body, &fields, p.field, txt) {
                        o.verdict = v;
                        o.reason = Some(why);
                    }
                    o
                }
            });
        }
        out.append(&mut self.unchecked);
        out
    }
}

/// The header fields of a header section, each from its name to the end
/// of its last line without the line break. A line that begins with
/// white space continues the field before it.
fn fields(header: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < header.len() {
        let eol = header[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(header.len(), |p| i + p);
        let next = eol + 1;
        let continues = matches!(header.get(next), Some(b' ' | b'\t'));
        if !continues {
            let mut end = eol;
            if end > start && header[end - 1] == b'\r' {
                end -= 1;
            }
            if end > start {
                out.push(&header[start..end]);
            }
            start = next;
        }
        i = next;
    }
    out
}

/// The field's name, before the colon.
fn name(field: &[u8]) -> &[u8] {
    let colon = field.iter().position(|&b| b == b':').unwrap_or(field.len());
    let n = &field[..colon];
    &n[..n.len()
        - n.iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count()]
}

/// The value of a DKIM-Signature field, or None for another field.
fn dkim_value(field: &[u8]) -> Option<&[u8]> {
    if !name(field).eq_ignore_ascii_case(b"dkim-signature") {
        return None;
    }
    let colon = field.iter().position(|&b| b == b':')?;
    Some(&field[colon + 1..])
}

/// An outcome; `sig` gives `header.d`, `header.s`, `header.b` and the
/// AUID (lower-cased where the RFC compares without case).
fn outcome(verdict: Verdict, sig: Option<&Signature>, reason: Option<String>) -> Outcome {
    let lower = |b: &[u8]| String::from_utf8_lossy(b).to_ascii_lowercase();
    let mut o = Outcome {
        verdict,
        domain: String::new(),
        selector: String::new(),
        b: String::new(),
        auid: String::new(),
        reason,
    };
    if let Some(s) = sig {
        o.domain = lower(s.domain);
        o.selector = lower(s.selector);
        o.b =
            s.b.iter()
                .filter(|&&b| !tags::fws(b))
                .take(8)
                .map(|&b| char::from(b))
                .collect();
        o.auid = match s.auid {
            Some(i) => String::from_utf8_lossy(i).into_owned(),
            None => String::from("@") + &o.domain,
        };
    }
    o
}

/// Fields that RFC 5322 section 3.6 allows once: a signed one that the
/// message has more often than `h=` names is the "oversigning" gap.
/// One string, not an array of slices: no table to relocate.
const SINGLE: &str =
    "from sender reply-to to cc bcc message-id in-reply-to references subject date";

/// Why a signature is not a pass: the verdict and the reason.
type NotPass = (Verdict, String);

fn no(v: Verdict, why: &str) -> Result<(), NotPass> {
    Err((v, why.to_string()))
}

/// Checks one parsed signature; `o` is its outcome so far (for the
/// lower-cased `d=` and `s=`).
fn check(
    sig: &Signature,
    o: &Outcome,
    (body_hash, body_len): ([u8; 32], u64),
    fields: &[&[u8]],
    own: usize,
    txt: &mut dyn FnMut(&str) -> Answer<Vec<Vec<u8>>>,
) -> Result<(), NotPass> {
    if sig.algorithm == Algorithm::RsaSha1 {
        return no(Verdict::Policy, "rsa-sha1 is not accepted (RFC 8301)");
    }
    if signature::base64(sig.bh).as_deref() != Some(&body_hash[..]) {
        return no(Verdict::Fail, "body hash did not verify");
    }
    // The key.
    let mut key_name = o.selector.clone();
    key_name.push_str("._domainkey.");
    key_name.push_str(&o.domain);
    let records = match txt(&key_name) {
        Answer::Records(r) => r,
        Answer::NxDomain | Answer::NoData => return no(Verdict::PermError, "no key for signature"),
        Answer::TempFail => return no(Verdict::TempError, "key lookup failed"),
    };
    let mut key = Err("no key record");
    for r in &records {
        key = signature::parse_key(r, sig);
        if key.is_ok() {
            break;
        }
    }
    let key = match key {
        Ok(k) => k,
        Err(e) => return no(Verdict::PermError, e),
    };
    if key.public.is_empty() {
        return no(Verdict::Fail, "key revoked");
    }
    // The header hash (section 3.7).
    let signed = sig.headers();
    let mut data = Vec::new();
    let mut used = vec![false; fields.len()];
    for h in signed.split(|&b| b == b':') {
        let last = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && i != own && name(fields[i]).eq_ignore_ascii_case(h));
        if let Some(i) = last {
            used[i] = true;
            canon::header(sig.header_canon, fields[i], &mut data);
        }
    }
    let own_field = fields[own];
    let colon = own_field.iter().position(|&b| b == b':').unwrap_or(0);
    let (b0, b1) = (colon + 1 + sig.b_span.0, colon + 1 + sig.b_span.1);
    let mut blanked = own_field[..b0].to_vec();
    blanked.extend_from_slice(&own_field[b1..]);
    canon::header(sig.header_canon, &blanked, &mut data);
    data.truncate(data.len() - 2);
    let mut h = Sha256::new();
    h.update(&data);
    let digest = h.finish();
    let b = signature::base64(sig.b).unwrap_or_default();
    let good = match key.kind {
        KeyKind::Rsa => match rsa::PublicKey::from_der(&key.public) {
            Err(e) => return no(Verdict::PermError, e.text()),
            Ok(k) if k.bits() < MIN_RSA_BITS => {
                return Err((
                    Verdict::Policy,
                    format!("RSA key of {} bits, under {MIN_RSA_BITS}", k.bits()),
                ));
            }
            Ok(k) => k.verify_pkcs1_sha256(&digest, &b),
        },
        KeyKind::Ed25519 => {
            if key.public.len() != 32 {
                return no(Verdict::PermError, "Ed25519 key is not 32 bytes");
            }
            ed25519::verify(&key.public, &digest, &b)
        }
    };
    if !good {
        return no(Verdict::Fail, "signature did not verify");
    }
    // Valid: now what it leaves open.
    if let Some(l) = sig.length
        && l < body_len
    {
        return Err((
            Verdict::Policy,
            format!("l= leaves {} body bytes unsigned", body_len - l),
        ));
    }
    let count = |n: &[u8]| {
        fields
            .iter()
            .filter(|f| name(f).eq_ignore_ascii_case(n))
            .count()
    };
    if count(b"from") > 1 {
        return no(Verdict::Policy, "more than one From field");
    }
    for s in SINGLE.split(' ') {
        let n = signed
            .split(|&b| b == b':')
            .filter(|h| *h == s.as_bytes())
            .count();
        if n > 0 && count(s.as_bytes()) > n {
            return Err((Verdict::Policy, format!("unsigned extra {s} field")));
        }
    }
    if key.testing {
        return no(Verdict::Neutral, "key in testing mode (t=y)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Later than the fixtures' t= (their signing time), so no x= or t=
    /// check depends on today's date.
    const NOW: u64 = 1_900_000_000;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/src/dkim/testdata/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// keys.txt as a zone, with `change` applied to each record.
    fn zone(change: &dyn Fn(&str) -> String) -> Vec<(String, Vec<u8>)> {
        String::from_utf8(fixture("keys.txt"))
            .unwrap()
            .lines()
            .map(|l| {
                let (n, r) = l.split_once('\t').unwrap();
                (n.to_string(), change(r).into_bytes())
            })
            .collect()
    }

    fn run_with(msg: &[u8], zone: &[(String, Vec<u8>)], piece: usize) -> Vec<Outcome> {
        let mut v = Verifier::new(NOW);
        for p in msg.chunks(piece) {
            v.update(p);
        }
        v.finish(&mut |name| match zone.iter().find(|(n, _)| n == name) {
            Some((_, r)) => Answer::Records(vec![r.clone()]),
            None => Answer::NxDomain,
        })
    }

    fn verdicts(msg: &[u8], zone: &[(String, Vec<u8>)]) -> Vec<(Verdict, Option<String>)> {
        let whole = run_with(msg, zone, msg.len().max(1));
        // The same whatever the pieces DATA delivers.
        for piece in [1, 7, 100] {
            assert_eq!(run_with(msg, zone, piece), whole, "pieces of {piece}");
        }
        whole.into_iter().map(|o| (o.verdict, o.reason)).collect()
    }

    fn same(r: &str) -> String {
        r.to_string()
    }

    fn pass() -> Vec<(Verdict, Option<String>)> {
        vec![(Verdict::Pass, None)]
    }

    fn why(v: Verdict, reason: &str) -> Vec<(Verdict, Option<String>)> {
        vec![(v, Some(reason.to_string()))]
    }

    #[test]
    fn dkimpy_signatures_pass_crlf_and_lf() {
        let z = zone(&same);
        for f in ["rsa1024.eml", "rsa2048.eml", "rsa2048-l.eml", "ed25519.eml"] {
            let m = fixture(f);
            assert_eq!(verdicts(&m, &z), pass(), "{f}");
            // As the spool stores it: LF line ends.
            let lf: Vec<u8> = String::from_utf8(m)
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes();
            assert_eq!(verdicts(&lf, &z), pass(), "{f} with LF");
        }
        let o = &run_with(&fixture("ed25519.eml"), &z, 64)[0];
        assert_eq!(
            (o.domain.as_str(), o.selector.as_str(), o.auid.as_str()),
            ("example.com", "ed", "@example.com")
        );
        assert_eq!(o.b.len(), 8);
    }

    #[test]
    fn tampering_fails() {
        let z = zone(&same);
        let m = String::from_utf8(fixture("rsa2048.eml")).unwrap();
        let body = m.replace("Hello Bob", "Hello Rob");
        assert_eq!(
            verdicts(body.as_bytes(), &z),
            why(Verdict::Fail, "body hash did not verify")
        );
        let head = m.replace("Subject: a folded", "Subject: a faded");
        assert_eq!(
            verdicts(head.as_bytes(), &z),
            why(Verdict::Fail, "signature did not verify")
        );
        let e = String::from_utf8(fixture("ed25519.eml")).unwrap();
        let date = e.replace("10:00:00", "10:00:01");
        assert_eq!(
            verdicts(date.as_bytes(), &z),
            why(Verdict::Fail, "signature did not verify")
        );
    }

    #[test]
    fn what_a_valid_signature_leaves_open_is_policy() {
        let z = zone(&same);
        let l = String::from_utf8(fixture("rsa2048-l.eml")).unwrap() + "appended\r\n";
        // 10 bytes appended, and the 2 empty lines before them that were
        // the body's (ignored) end and are content now.
        assert_eq!(
            verdicts(l.as_bytes(), &z),
            why(Verdict::Policy, "l= leaves 14 body bytes unsigned")
        );
        let m = String::from_utf8(fixture("rsa2048.eml")).unwrap();
        // dkimpy signs From twice (oversigned): a second From breaks the
        // hash; an unsigned extra To (signed once) is the gap.
        let to = m.replacen(
            "DKIM-Signature",
            "To: mallory@example.net\r\nDKIM-Signature",
            1,
        );
        assert_eq!(
            verdicts(to.as_bytes(), &z),
            why(Verdict::Policy, "unsigned extra to field")
        );
        let from = m.replacen(
            "DKIM-Signature",
            "From: ceo@example.com\r\nDKIM-Signature",
            1,
        );
        assert_eq!(
            verdicts(from.as_bytes(), &z),
            why(Verdict::Fail, "signature did not verify")
        );
    }

    #[test]
    fn key_records_decide() {
        let m = fixture("ed25519.eml");
        let revoked = zone(&|r: &str| r.split("p=").next().unwrap().to_string() + "p=");
        assert_eq!(verdicts(&m, &revoked), why(Verdict::Fail, "key revoked"));
        let testing =
            zone(&|r: &str| format!("t=y; {r}").replace("t=y; v=DKIM1; ", "v=DKIM1; t=y; "));
        assert_eq!(
            verdicts(&m, &testing),
            why(Verdict::Neutral, "key in testing mode (t=y)")
        );
        let rsa_type = zone(&|r: &str| r.replace("k=ed25519", "k=rsa"));
        assert_eq!(
            verdicts(&m, &rsa_type),
            why(Verdict::PermError, "key type does not match a=")
        );
        assert_eq!(
            verdicts(&m, &[]),
            why(Verdict::PermError, "no key for signature")
        );
        let mut v = Verifier::new(NOW);
        v.update(&m);
        let o = v.finish(&mut |_| Answer::TempFail);
        assert_eq!(
            (o[0].verdict, o[0].reason.as_deref()),
            (Verdict::TempError, Some("key lookup failed"))
        );
        // A 512-bit RSA key is refused before the signature is checked.
        let r = fixture("rsa1024.eml");
        let short = zone(&|r: &str| {
            if r.contains("k=rsa") {
                // RSA-512 SubjectPublicKeyInfo (openssl genrsa 512).
                "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMB955/F/ljqPQvWy2C6KNHr9tiyv5hKcD2xzpZiNDdqEOzaji5HhjgLZKMxe5596RBPGewBjHM7NcqsglSCc9MCAwEAAQ==".to_string()
            } else {
                r.to_string()
            }
        });
        let got = verdicts(&r, &short);
        assert_eq!(got, why(Verdict::Policy, "RSA key of 512 bits, under 1024"));
    }

    #[test]
    fn unsigned_messages_and_bad_signatures() {
        let z = zone(&same);
        assert_eq!(verdicts(b"From: a@b.example\r\n\r\nhi\r\n", &z), vec![]);
        assert_eq!(verdicts(b"", &z), vec![]);
        let bad = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=x; h=to; bh=YQ==; b=YQ==\r\n\r\nx\r\n";
        assert_eq!(
            verdicts(bad, &z),
            why(Verdict::PermError, "h= does not include From")
        );
        let sha1 = String::from_utf8(fixture("rsa2048.eml"))
            .unwrap()
            .replace("a=rsa-sha256", "a=rsa-sha1");
        assert_eq!(
            verdicts(sha1.as_bytes(), &z),
            why(Verdict::Policy, "rsa-sha1 is not accepted (RFC 8301)")
        );
    }

    #[test]
    fn more_than_five_signatures_are_not_checked() {
        let z = zone(&same);
        let m = String::from_utf8(fixture("ed25519.eml")).unwrap();
        let (sig, rest) = m.split_once("From: ").unwrap();
        let many = sig.repeat(7) + "From: " + rest;
        let got = verdicts(many.as_bytes(), &z);
        assert_eq!(got.len(), 7);
        assert!(got[..5].iter().all(|(v, _)| *v == Verdict::Pass), "{got:?}");
        for (v, r) in &got[5..] {
            assert_eq!(
                (*v, r.as_deref()),
                (
                    Verdict::Neutral,
                    Some("not checked: more than 5 signatures")
                )
            );
        }
    }

    #[test]
    fn a_header_section_over_the_bound_is_permerror() {
        let z = zone(&same);
        let m = String::from_utf8(fixture("ed25519.eml")).unwrap();
        let long = format!("X-Pad: {}\r\n{m}", "x".repeat(MAX_HEADER_BYTES));
        assert_eq!(
            verdicts(long.as_bytes(), &z),
            why(Verdict::PermError, "header section over 64 KiB")
        );
    }

    #[test]
    fn header_fields_are_split_at_unfolded_line_starts() {
        assert_eq!(
            fields(b"A: 1\r\nB: 2\r\n 3\r\n\tC\nD:4\r\n\r\n"),
            vec![&b"A: 1"[..], b"B: 2\r\n 3\r\n\tC", b"D:4"]
        );
        assert_eq!(name(b"Subject :x"), b"Subject");
    }
}
