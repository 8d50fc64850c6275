//! DMARC verification on receipt (RFC 9989, which obsoletes RFC 7489 and
//! RFC 9091). Pure: the DNS is a closure, so the evaluator runs against
//! the resolver, a test zone or the fuzzer's input.
//!
//! - `from`: the Author Domain from the RFC5322.From field.
//! - `record`: the DMARC Policy Record.
//! - here: policy discovery and the Organizational Domain by the DNS Tree
//!   Walk (section 4.10, no public suffix list), Identifier Alignment
//!   (section 4.4), the result and the policy for Authentication-Results.
//!
//! Section numbers are those of draft-ietf-dmarc-dmarcbis-41, the text
//! published as RFC 9989; the section titles are quoted where it matters.
//!
//! DNS queries: every TXT question goes through [`evaluate`]'s `txt`
//! closure. `_dmarc.<name>` for the tree walks, each name at most once
//! per evaluation (a cache), at most [`MAX_WALK_QUERIES`] in all; plus at
//! most one TXT question for the Author Domain itself, to learn whether
//! it exists (for `np=`, section 3.2.13: NXDOMAIN means it does not;
//! Appendix A.4: any record type will do). So [`MAX_QUERIES`] bounds one
//! message's DMARC questions.

pub mod from;
pub mod record;

pub use from::{author, author_domain};
pub use record::{Policy, Psd, Record};

use crate::spf::{Answer, SpfResult};

/// Section 4.10: "Author Domains with more than eight labels do not
/// result in more than eight DNS queries" — per tree walk.
pub const MAX_WALK: usize = 8;

/// The `_dmarc` questions of one evaluation: the Author Domain's walk and
/// three more walks' worth for the Authenticated Identifiers (the SPF
/// domain and DKIM domains). Names above the Author Domain's
/// Organizational Domain are shared (cached), and an identifier outside
/// that domain needs no walk at all, so real mail stays far below this;
/// an identifier whose walk would pass the bound is taken as not aligned.
pub const MAX_WALK_QUERIES: usize = 4 * MAX_WALK;

/// All TXT questions of one evaluation: the walks and the existence test.
pub const MAX_QUERIES: usize = MAX_WALK_QUERIES + 1;

/// The DMARC result (section 9.2, "Email Authentication Result Names").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DmarcResult {
    /// A policy record exists and an Authenticated Identifier is aligned.
    Pass,
    /// A policy record exists and no Authenticated Identifier is aligned.
    Fail,
    /// No policy record applies (DMARC does not apply, section 5.3.2).
    None,
    /// A DNS failure kept the result open (section 5.3.6).
    TempError,
    /// No single Author Domain, or a record whose policy is unusable
    /// (section 4.10.1).
    PermError,
}

impl DmarcResult {
    /// The result as in Authentication-Results (`dmarc=`).
    pub fn as_str(self) -> &'static str {
        match self {
            DmarcResult::Pass => "pass",
            DmarcResult::Fail => "fail",
            DmarcResult::None => "none",
            DmarcResult::TempError => "temperror",
            DmarcResult::PermError => "permerror",
        }
    }
}

/// What [`evaluate`] knows about the message.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The Author Domain, from [`author_domain`].
    pub from_domain: &'a str,
    /// The SPF result and the domain it was checked for (the MAIL FROM
    /// domain, or the HELO name for the null path: section 3.2.4). Only a
    /// `pass` is an Authenticated Identifier (section 4.4.2).
    pub spf: Option<(SpfResult, &'a str)>,
    /// The `d=` of every DKIM signature whose result is `pass` (section
    /// 4.4.1); others must not be passed.
    pub dkim_pass_domains: &'a [&'a str],
}

/// The outcome of one evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DmarcOutcome {
    pub result: DmarcResult,
    /// The Domain Owner Assessment Policy that applies to the Author
    /// Domain as published (`p=`, `sp=` or `np=`, section 4.10.1), before
    /// `t=y`; None when no record applies or on an error.
    pub policy: Option<Policy>,
    /// Which tag `policy` came from: "p", "sp" or "np" ("" without one).
    pub policy_tag: &'static str,
    /// The record has `t=y`: the Domain Owner asks that the policy not be
    /// applied as is but one level below (section 4.7, `t`).
    pub testing: bool,
    /// The Author Domain's Organizational Domain (section 3.2.14), when
    /// the evaluation needed it or had it for free; "" otherwise.
    pub org_domain: String,
    /// The DMARC Policy Domain (section 3.2.5): where the applied record
    /// was found; "" without one.
    pub record_domain: String,
    /// SPF passed for a domain aligned with the Author Domain.
    pub spf_aligned: bool,
    /// The first DKIM `d=` that passed and is aligned.
    pub dkim_aligned: Option<String>,
    /// TXT questions asked (at most [`MAX_QUERIES`]).
    pub queries: usize,
    /// Why the result is a `permerror`/`temperror`, for `reason="…"`.
    pub reason: Option<&'static str>,
}

impl DmarcOutcome {
    /// An outcome without a policy: `none`, or an error with its reason
    /// (also for the caller when [`author_domain`] fails).
    pub fn without_policy(result: DmarcResult, reason: Option<&'static str>) -> DmarcOutcome {
        DmarcOutcome {
            result,
            policy: None,
            policy_tag: "",
            testing: false,
            org_domain: String::new(),
            record_domain: String::new(),
            spf_aligned: false,
            dkim_aligned: None,
            queries: 0,
            reason,
        }
    }

    /// The handling the Domain Owner asks for this message: for a `fail`
    /// the policy, one level lower under `t=y` (section 4.7, `t`); `none`
    /// for any other result — a pass needs none, and after a DNS or
    /// record error "the Domain Owner Assessment Policy cannot be applied"
    /// (section 5.3.6). Section 5.4 leaves the final handling to the
    /// receiver: tinymx's `--dmarc-reject` rejects only when this is
    /// `Reject`, i.e. never for `quarantine` and never under `t=y`.
    pub fn disposition(&self) -> Policy {
        match (self.result, self.policy) {
            (DmarcResult::Fail, Some(p)) if self.testing => p.one_below(),
            (DmarcResult::Fail, Some(p)) => p,
            _ => Policy::None,
        }
    }

    /// The method's part of an Authentication-Results field (RFC 8601
    /// section 2.2; properties from RFC 9989 section 9.1), e.g.
    /// `dmarc=fail (p=reject) policy.dmarc=reject header.from=example.com`.
    /// The comment shows the published policy and the tag it came from
    /// (and `t=y`); `policy.dmarc` — "the evaluated DMARC policy applied/to
    /// be applied after policy options have been processed" — is
    /// [`disposition`](Self::disposition), given for a `fail` only, the
    /// one result where a policy is applied. `header.from` is left out
    /// when `from_domain` is empty (no single Author Domain).
    pub fn authres(&self, from_domain: &str) -> String {
        let mut s = String::new();
        self.authres_to(from_domain, &mut s);
        s
    }

    /// [`authres`](Self::authres), appended to `s`.
    pub fn authres_to(&self, from_domain: &str, s: &mut String) {
        s.push_str("dmarc=");
        s.push_str(self.result.as_str());
        if let Some(p) = self.policy {
            s.push_str(" (");
            s.push_str(self.policy_tag);
            s.push('=');
            s.push_str(p.as_str());
            if self.testing {
                s.push_str(" t=y");
            }
            s.push(')');
        }
        if let Some(r) = self.reason {
            s.push_str(" reason=\"");
            s.push_str(r);
            s.push('"');
        }
        if self.result == DmarcResult::Fail {
            s.push_str(" policy.dmarc=");
            s.push_str(self.disposition().as_str());
        }
        if !from_domain.is_empty() {
            s.push_str(" header.from=");
            s.push_str(from_domain);
        }
    }
}

/// What a `_dmarc.<name>` question found.
#[derive(Clone, Copy)]
enum Look {
    /// Exactly one DMARC Policy Record.
    Record(Record),
    /// None, or several (section 4.10, step 2: "If multiple DMARC Policy
    /// Records are returned for a single target, they are all discarded").
    /// `exists`: the answer proves that `name` exists (a NODATA or
    /// records at `_dmarc.<name>` mean that name exists, so its parent
    /// does too).
    Nothing { exists: bool },
    /// A DNS failure.
    Temp,
}

/// Why a walk could not finish.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    Temp,
    Budget,
}

/// A finished tree walk from `start`: offsets are where a suffix of
/// `start` begins.
struct Walked {
    /// The Organizational Domain (section 4.10.2's selection).
    org: usize,
    /// The record to apply when `start` has none (section 4.10.1): the
    /// Organizational Domain's, else the PSD's; with where it was found.
    policy: Option<(usize, Record)>,
}

struct Eval<'a> {
    txt: &'a mut dyn FnMut(&str) -> Answer<Vec<Vec<u8>>>,
    cache: Vec<(String, Look)>,
    queries: usize,
}

impl Eval<'_> {
    /// The `_dmarc.<name>` answer, asked once per name; None when the
    /// budget is spent.
    fn look(&mut self, name: &str) -> Option<Look> {
        if let Some((_, l)) = self.cache.iter().find(|(n, _)| n == name) {
            return Some(*l);
        }
        // "_dmarc." + name must fit in a DNS name: a longer one has no
        // record (and this question would be refused anyway).
        let l = if name.len() + 7 > from::MAX_DOMAIN {
            Look::Nothing { exists: false }
        } else {
            if self.queries >= MAX_WALK_QUERIES {
                return None;
            }
            self.queries += 1;
            match (self.txt)(&format!("_dmarc.{name}")) {
                Answer::Records(rrs) => {
                    let mut dmarc = rrs.iter().filter(|r| record::is_dmarc(r));
                    match (dmarc.next(), dmarc.next()) {
                        (Some(r), None) => {
                            record::parse(r).map_or(Look::Nothing { exists: true }, Look::Record)
                        }
                        _ => Look::Nothing { exists: true },
                    }
                }
                Answer::NoData => Look::Nothing { exists: true },
                Answer::NxDomain => Look::Nothing { exists: false },
                Answer::TempFail => Look::Temp,
            }
        };
        self.cache.push((name.to_string(), l));
        Some(l)
    }

    /// The DNS Tree Walk of section 4.10 from `start`, and the selection
    /// of the Organizational Domain of section 4.10.2.
    fn walk(&mut self, start: &str) -> Result<Walked, Stop> {
        // Step 3: the labels, as the offsets where each suffix begins.
        let mut starts = vec![0];
        starts.extend(start.match_indices('.').map(|(i, _)| i + 1));
        let n = starts.len();
        // Step 1 queries `start`; step 4 goes on with its parent, or
        // jumps to the suffix of 7 labels when there are 8 or more; step
        // 7 removes one label at a time. At most 8 questions.
        let mut found: Vec<(usize, usize, Record)> = Vec::new(); // (label index, offset, record)
        for k in std::iter::once(0).chain(n.saturating_sub(MAX_WALK - 1).max(1)..n) {
            let off = starts[k];
            match self.look(&start[off..]).ok_or(Stop::Budget)? {
                Look::Temp => return Err(Stop::Temp),
                Look::Nothing { .. } => {}
                Look::Record(r) => {
                    found.push((k, off, r));
                    // Steps 2 and 6: a psd=y or psd=n record ends the walk.
                    if r.psd != Psd::Unknown {
                        break;
                    }
                }
            }
        }
        // Section 4.10.2, from the longest name to the shortest (only the
        // last found can carry psd=y/n: the walk stopped there):
        // 1. psd=n: that domain; 2. psd=y, not at `start`: the domain one
        // label below it; 3. the record with the fewest labels. Without
        // records, `start` itself.
        let Some(&(k, off, last)) = found.last() else {
            return Ok(Walked {
                org: 0,
                policy: None,
            });
        };
        let org = match last.psd {
            Psd::Yes if k > 0 => starts[k - 1],
            _ => off,
        };
        // Section 4.10.1: the Organizational Domain's record, else the
        // Public Suffix Domain's (the psd=y one). The domain below a PSD
        // was not asked for when the 7-label jump skipped it; its record,
        // if any, stays unknown (the 8-question limit wins).
        let policy = found
            .iter()
            .find(|f| f.1 == org)
            .or(found.last())
            .map(|f| (f.1, f.2));
        Ok(Walked { org, policy })
    }
}

/// `d` lower-cased without a trailing dot (identifiers compare
/// case-insensitively, section 4.4, RFC 4343).
fn norm(d: &str) -> String {
    d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase()
}

/// `x` is `org` or a subdomain of it.
fn under(x: &str, org: &str) -> bool {
    x == org || x.strip_suffix(org).is_some_and(|p| p.ends_with('.'))
}

/// Evaluates DMARC for a message (section 5.3, "Mail Receiver Actions",
/// 5.3.2 to 5.3.6). `txt(name)` answers TXT questions, each record's
/// strings joined (section 4.5). See the module documentation for the
/// questions asked.
pub fn evaluate(inp: &Inputs, txt: &mut dyn FnMut(&str) -> Answer<Vec<Vec<u8>>>) -> DmarcOutcome {
    let a = norm(inp.from_domain);
    if a.len() > from::MAX_DOMAIN || !crate::smtp::address::is_domain(a.as_bytes(), true) {
        return DmarcOutcome::without_policy(DmarcResult::PermError, Some("no Author Domain"));
    }
    let mut ev = Eval {
        txt,
        cache: Vec::new(),
        queries: 0,
    };
    let mut out = DmarcOutcome::without_policy(DmarcResult::None, None);
    let mut org_a: Option<usize> = None;
    let temp = |ev: &Eval, mut out: DmarcOutcome| {
        out.result = DmarcResult::TempError;
        out.reason = Some("DNS failure");
        out.queries = ev.queries;
        out
    };

    // Section 4.10.1, "DMARC Policy Discovery": the Author Domain's own
    // record, else a tree walk for the Organizational Domain's or the
    // PSD's. Without one DMARC does not apply (section 5.3.2).
    let (rec_off, mut rec) = match ev.look(&a) {
        Some(Look::Record(r)) => (0, r),
        Some(Look::Nothing { .. }) => match ev.walk(&a) {
            Ok(w) => {
                org_a = Some(w.org);
                match w.policy {
                    Some(p) => p,
                    None => {
                        out.queries = ev.queries;
                        return out;
                    }
                }
            }
            Err(_) => return temp(&ev, out),
        },
        _ => return temp(&ev, out),
    };
    out.record_domain = a[rec_off..].to_string();
    out.testing = rec.testing;
    if rec.psd != Psd::Unknown && rec_off == 0 {
        // The walk would stop at once: the Author Domain is its own
        // Organizational Domain (section 4.10.2, rules 1 and 3).
        org_a = Some(0);
    }
    // Section 4.10.1: a record with an invalid p=, sp= or np= counts as
    // p=none if its rua= names a valid URI; otherwise "the Mail Receiver
    // applies no DMARC processing to this message" — reported as
    // permerror ("the retrieval of an improperly formatted DMARC Policy
    // Record", section 9.2) so that the broken record shows.
    if rec.bad_policy {
        if !rec.rua_ok {
            out.result = DmarcResult::PermError;
            out.reason = Some("invalid policy in the DMARC record");
            out.queries = ev.queries;
            return out;
        }
        (rec.p, rec.sp, rec.np) = (Some(Policy::None), None, None);
    }

    // Sections 4.4 and 4.10.2: Identifier Alignment. Strict: the same
    // name; relaxed: the same Organizational Domain. An identical name is
    // aligned either way and needs no DNS; in relaxed mode an identifier
    // outside the Author Domain's Organizational Domain cannot share it
    // (an Organizational Domain is always the name itself or one of its
    // parents), so only identifiers below that domain are walked.
    let spf_id = match inp.spf {
        Some((SpfResult::Pass, d)) => Some(norm(d)),
        _ => None,
    };
    let mut open = false; // an alignment the DNS left undecided
    let mut aligned = |ev: &mut Eval, org_a: &mut Option<usize>, x: &str, strict: bool| -> bool {
        if x == a {
            return true;
        }
        if strict {
            return false;
        }
        let oa = match *org_a {
            Some(o) => o,
            None => match ev.walk(&a) {
                Ok(w) => *org_a.insert(w.org),
                Err(s) => {
                    open |= s == Stop::Temp;
                    return false;
                }
            },
        };
        if !under(x, &a[oa..]) {
            return false;
        }
        match ev.walk(x) {
            Ok(w) => x[w.org..] == a[oa..],
            Err(s) => {
                open |= s == Stop::Temp;
                false
            }
        }
    };
    out.spf_aligned = spf_id
        .as_deref()
        .is_some_and(|x| aligned(&mut ev, &mut org_a, x, rec.aspf_strict));
    for d in inp.dkim_pass_domains {
        let d = norm(d);
        if aligned(&mut ev, &mut org_a, &d, rec.adkim_strict) {
            out.dkim_aligned = Some(d);
            break;
        }
    }
    // Section 5.3.5: pass if any identifier aligns, else fail; section
    // 5.3.6: a DNS failure on the way means neither.
    out.result = if out.spf_aligned || out.dkim_aligned.is_some() {
        DmarcResult::Pass
    } else if open {
        return temp(&ev, out);
    } else {
        DmarcResult::Fail
    };
    if let Some(o) = org_a {
        out.org_domain = a[o..].to_string();
    }

    // Section 4.10.1: p= for the Author Domain's own record; for a
    // parent's, sp= if the Author Domain exists and np= if it does not,
    // p= without them. Existence (section 3.2.13, Appendix A.4) is asked
    // only when np= would change the answer.
    let (policy, tag) = if rec_off == 0 {
        (rec.p, "p")
    } else {
        let fallback = if rec.sp.is_some() {
            (rec.sp, "sp")
        } else {
            (rec.p, "p")
        };
        let known = matches!(ev.cache.first(), Some((_, Look::Nothing { exists: true })));
        if rec.np.is_none() || rec.np == fallback.0.or(Some(Policy::None)) || known {
            fallback
        } else {
            ev.queries += 1;
            match (ev.txt)(&a) {
                Answer::NxDomain => (rec.np, "np"),
                Answer::TempFail if out.result == DmarcResult::Fail => return temp(&ev, out),
                _ => fallback,
            }
        }
    };
    // Section 4.7, p: an absent p= is p=none.
    out.policy = Some(policy.unwrap_or(Policy::None));
    out.policy_tag = tag;
    out.queries = ev.queries;
    out
}

#[cfg(test)]
mod tests;
