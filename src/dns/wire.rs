//! The DNS message format (RFC 1035 section 4) with EDNS0 (RFC 6891): a
//! query builder and a response parser written for hostile input.
//!
//! The parser trusts nothing in the packet: every length is checked
//! against the bytes that are really there, compression pointers must
//! point strictly backwards (each jump before the previous one, so no
//! loop is possible), names stay within 255 octets and labels within 63
//! (RFC 1035 section 2.3.4), and no allocation is sized by a count read
//! from the packet: sections grow one parsed record at a time, and the
//! number of records is capped. It returns an error, never panics.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The UDP payload size we advertise in EDNS0: 1232 bytes fits in one
/// IPv6 packet on a 1280-byte MTU path (the DNS flag day 2020 value).
pub const EDNS_PAYLOAD: u16 = 1232;
/// Longest name in wire form, length octets included (RFC 1035 2.3.4).
pub const MAX_NAME_WIRE: usize = 255;
/// Longest label (RFC 1035 2.3.4).
pub const MAX_LABEL: usize = 63;
/// More records than this in one message is treated as malformed: a
/// 64 KiB TCP answer can hold about 5,900 minimal records, far more than
/// any real answer to one question, and each parsed record costs memory.
pub const MAX_RECORDS: usize = 512;
/// Compression jumps allowed within one name. Strictly backwards jumps
/// already rule out loops; this bounds the work per name as well.
const MAX_JUMPS: usize = 32;

pub const CLASS_IN: u16 = 1;
pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_SOA: u16 = 6;
pub const TYPE_PTR: u16 = 12;
pub const TYPE_MX: u16 = 15;
pub const TYPE_TXT: u16 = 16;
pub const TYPE_AAAA: u16 = 28;
pub const TYPE_OPT: u16 = 41;

/// RCODE values used here (RFC 1035 4.1.1).
pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_SERVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

/// Why a packet or a name was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The packet ends before a field it announces.
    Truncated,
    /// A compression pointer that does not point strictly backwards, or
    /// too many of them.
    BadPointer,
    /// A label over 63 octets, or one of the reserved label types 01/10.
    BadLabel,
    /// A name over 255 octets.
    NameTooLong,
    /// Record data whose length does not fit its type.
    BadRdata,
    /// More records than `MAX_RECORDS`, or bytes left after the last one.
    BadCounts,
    /// Not a response, or not exactly one question.
    NotAResponse,
}

/// A domain name in presentation form: labels joined by '.', no trailing
/// dot, the root as "". Octets other than letters, digits, '-' and '_'
/// are written as `\DDD` (RFC 1035 5.1), so a '.' inside a label can never
/// be mistaken for a label boundary. Compared case-insensitively (RFC
/// 4343), which also accepts answers to 0x20-randomised questions.
#[derive(Clone, Debug, Eq)]
pub struct Name(pub String);

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.0.eq_ignore_ascii_case(&other.0)
    }
}

impl Name {
    /// The lower-cased form, used as a cache key.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// The name as plain labels joined by '.', the form `build_query` and
    /// SPF's lookups take: each `\DDD` back to its octet, so a name read
    /// from an answer (an MX exchange, a PTR target) can be asked for.
    /// None when a label holds a '.' (it would read as two labels) or the
    /// octets are not UTF-8 (a `&str` cannot hold them).
    pub fn plain(&self) -> Option<String> {
        let s = self.0.as_bytes();
        let mut out = Vec::with_capacity(s.len());
        let mut i = 0;
        while i < s.len() {
            if s[i] == b'\\' {
                let digits = std::str::from_utf8(s.get(i + 1..i + 4)?).ok()?;
                let b: u8 = digits.parse().ok()?;
                if b == b'.' {
                    return None;
                }
                out.push(b);
                i += 4;
            } else {
                out.push(s[i]);
                i += 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

/// One record's data, for the types tinymx asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    /// Preference, exchange.
    Mx(u16, Name),
    Ptr(Name),
    Cname(Name),
    /// The character-strings, unjoined (RFC 7208 3.3 joins them).
    Txt(Vec<Vec<u8>>),
    /// Only the fields negative caching needs (RFC 2308 section 5).
    Soa {
        mname: Name,
        minimum: u32,
    },
    /// Any other type: its data is skipped, not kept.
    Other,
}

/// A resource record (RFC 1035 4.1.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: Name,
    pub rtype: u16,
    pub class: u16,
    /// Seconds. A value with the top bit set is read as 0 (RFC 2181 8).
    pub ttl: u32,
    pub data: Rdata,
}

/// The question section's one entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub name: Name,
    pub qtype: u16,
    pub qclass: u16,
}

/// A parsed response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub id: u16,
    /// TC: the answer did not fit; the sections are not parsed then.
    pub truncated: bool,
    /// The low 4 bits of RCODE (the EDNS extension is not used here).
    pub rcode: u8,
    pub question: Question,
    pub answers: Vec<Record>,
    pub authority: Vec<Record>,
}

/// Builds a query for `name`/`qtype` in class IN with RD set and an OPT
/// record advertising `EDNS_PAYLOAD` (RFC 6891 6.1.2). The name is taken
/// as plain labels separated by '.', one trailing dot allowed; an empty
/// label, a label over 63 octets or a name over 255 is refused.
pub fn build_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, WireError> {
    let mut q = Vec::with_capacity(12 + name.len() + 2 + 4 + 11);
    q.extend_from_slice(&id.to_be_bytes());
    // Flags: QR=0, OPCODE=QUERY, RD=1 (we are a stub, RFC 1035 4.1.1).
    q.extend_from_slice(&[0x01, 0x00]);
    // QDCOUNT 1, ANCOUNT 0, NSCOUNT 0, ARCOUNT 1 (the OPT record).
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]);
    encode_name(name, &mut q)?;
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&CLASS_IN.to_be_bytes());
    // OPT: root owner, type 41, CLASS = payload size, TTL = extended
    // RCODE 0, version 0, no DO bit; no options (RFC 6891 6.1.2, 6.1.3).
    q.push(0);
    q.extend_from_slice(&TYPE_OPT.to_be_bytes());
    q.extend_from_slice(&EDNS_PAYLOAD.to_be_bytes());
    q.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    Ok(q)
}

/// Appends `name` in wire form (no compression).
fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), WireError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut wire_len = 1; // the root label
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > MAX_LABEL {
                return Err(WireError::BadLabel);
            }
            wire_len += 1 + label.len();
            if wire_len > MAX_NAME_WIRE {
                return Err(WireError::NameTooLong);
            }
            out.push(label.len() as u8);
            out.extend_from_slice(label.as_bytes());
        }
    }
    out.push(0);
    Ok(())
}

/// A bounds-checked reader over the whole message (names need the whole
/// message for compression pointers).
struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let s = self.msg.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(s)
    }
    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn name(&mut self) -> Result<Name, WireError> {
        let (name, next) = read_name(self.msg, self.pos)?;
        self.pos = next;
        Ok(name)
    }
}

/// Reads the name at `start`; returns it and the offset just after it in
/// the original (unjumped) sequence. A pointer (RFC 1035 4.1.4) must
/// point before the lowest offset read so far in this name, so every jump
/// goes strictly backwards and the walk ends.
pub fn read_name(msg: &[u8], start: usize) -> Result<(Name, usize), WireError> {
    let mut out = String::new();
    let mut pos = start;
    let mut floor = start; // every pointer must land below this
    let mut after: Option<usize> = None;
    let mut wire_len = 1; // the root label's length octet
    let mut jumps = 0;
    loop {
        let len = *msg.get(pos).ok_or(WireError::Truncated)? as usize;
        match len & 0xC0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + len)
                    .ok_or(WireError::Truncated)?;
                wire_len += 1 + len;
                if wire_len > MAX_NAME_WIRE {
                    return Err(WireError::NameTooLong);
                }
                // Every label adds at least one character, so a non-empty
                // `out` means this is not the first label.
                if !out.is_empty() {
                    out.push('.');
                }
                push_label(&mut out, label);
                pos += 1 + len;
            }
            0xC0 => {
                let low = *msg.get(pos + 1).ok_or(WireError::Truncated)? as usize;
                let target = (len & 0x3F) << 8 | low;
                jumps += 1;
                if target >= floor || jumps > MAX_JUMPS {
                    return Err(WireError::BadPointer);
                }
                after.get_or_insert(pos + 2);
                floor = target;
                pos = target;
            }
            // 0x40 and 0x80 are the obsolete extended and reserved label
            // types (RFC 6891 5, RFC 2673 obsoleted): refused.
            _ => return Err(WireError::BadLabel),
        }
    }
    Ok((Name(out), after.unwrap_or(pos + 1)))
}

/// `name` (plain labels, as `build_query` takes it) in the presentation
/// form `read_name` gives, so the two can be compared.
pub fn presentation(name: &str) -> Name {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut out = String::with_capacity(name.len());
    for (i, label) in name.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(&mut out, label.as_bytes());
    }
    Name(out)
}

/// Appends one label in presentation form with `\DDD` escapes.
fn push_label(out: &mut String, label: &[u8]) {
    for &b in label {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            out.push(b as char);
        } else {
            out.push('\\');
            for d in [b / 100, b / 10 % 10, b % 10] {
                out.push(char::from(b'0' + d));
            }
        }
    }
}

/// Parses a response. Requires QR=1 and exactly one question (we send
/// one; RFC 1035 4.1.2). With TC set only the header and the question are
/// read: the rest is incomplete by definition and the caller retries over
/// TCP (RFC 1035 4.2.1, RFC 7766 5). The additional section is checked
/// for well-formedness but not kept: a stub has no use for glue.
pub fn parse_response(msg: &[u8]) -> Result<Message, WireError> {
    let mut r = Reader { msg, pos: 0 };
    let id = r.u16()?;
    let flags = r.u16()?;
    let counts = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    if flags & 0x8000 == 0 || counts[0] != 1 {
        return Err(WireError::NotAResponse);
    }
    let total: usize = counts[1..].iter().map(|&c| c as usize).sum();
    if total > MAX_RECORDS {
        return Err(WireError::BadCounts);
    }
    let question = Question {
        name: r.name()?,
        qtype: r.u16()?,
        qclass: r.u16()?,
    };
    let truncated = flags & 0x0200 != 0;
    let mut m = Message {
        id,
        truncated,
        rcode: (flags & 0x000F) as u8,
        question,
        answers: Vec::new(),
        authority: Vec::new(),
    };
    if truncated {
        return Ok(m);
    }
    for _ in 0..counts[1] {
        m.answers.push(read_record(&mut r)?);
    }
    for _ in 0..counts[2] {
        m.authority.push(read_record(&mut r)?);
    }
    for _ in 0..counts[3] {
        read_record(&mut r)?;
    }
    if r.pos != msg.len() {
        return Err(WireError::BadCounts);
    }
    Ok(m)
}

/// One resource record; its data must end exactly at RDLENGTH.
fn read_record(r: &mut Reader<'_>) -> Result<Record, WireError> {
    let name = r.name()?;
    let rtype = r.u16()?;
    let class = r.u16()?;
    let ttl = r.u32()?;
    // RFC 2181 section 8: a TTL with the most significant bit set is 0.
    let ttl = if ttl > i32::MAX as u32 { 0 } else { ttl };
    let rdlen = r.u16()? as usize;
    let start = r.pos;
    let rdata = r.take(rdlen)?;
    let end = r.pos;
    let data = read_rdata(r.msg, start, end, rtype, rdata)?;
    Ok(Record {
        name,
        rtype,
        class,
        ttl,
        data,
    })
}

/// The data of one record at `start..end` (`rdata` is that slice). Names
/// inside may be compressed (RFC 1035 4.1.4 allows it for MX, PTR, CNAME,
/// SOA) but must end within the record.
fn read_rdata(
    msg: &[u8],
    start: usize,
    end: usize,
    rtype: u16,
    rdata: &[u8],
) -> Result<Rdata, WireError> {
    let name_at = |pos: usize| -> Result<(Name, usize), WireError> {
        // Bound the name to the record so it cannot borrow trailing bytes.
        // (`end` is within `msg`: the record's data was taken from it.)
        let within = msg.get(..end).ok_or(WireError::Truncated)?;
        let (n, next) = read_name(within, pos)?;
        Ok((n, next))
    };
    let data = match rtype {
        TYPE_A => Rdata::A(Ipv4Addr::from(
            <[u8; 4]>::try_from(rdata).map_err(|_| WireError::BadRdata)?,
        )),
        TYPE_AAAA => Rdata::Aaaa(Ipv6Addr::from(
            <[u8; 16]>::try_from(rdata).map_err(|_| WireError::BadRdata)?,
        )),
        TYPE_MX => {
            if rdata.len() < 3 {
                return Err(WireError::BadRdata);
            }
            let (n, next) = name_at(start + 2)?;
            exact(next, end)?;
            Rdata::Mx(u16::from_be_bytes([rdata[0], rdata[1]]), n)
        }
        TYPE_PTR | TYPE_CNAME => {
            let (n, next) = name_at(start)?;
            exact(next, end)?;
            if rtype == TYPE_PTR {
                Rdata::Ptr(n)
            } else {
                Rdata::Cname(n)
            }
        }
        TYPE_TXT => Rdata::Txt(read_strings(rdata)?),
        TYPE_SOA => {
            let (mname, next) = name_at(start)?;
            let (_rname, next) = name_at(next)?;
            // SERIAL REFRESH RETRY EXPIRE MINIMUM: five 32-bit fields.
            exact(next + 20, end)?;
            // MINIMUM: the data's last four octets.
            let minimum = rdata.last_chunk::<4>().ok_or(WireError::BadRdata)?;
            Rdata::Soa {
                mname,
                minimum: u32::from_be_bytes(*minimum),
            }
        }
        _ => Rdata::Other,
    };
    Ok(data)
}

fn exact(next: usize, end: usize) -> Result<(), WireError> {
    if next == end {
        Ok(())
    } else {
        Err(WireError::BadRdata)
    }
}

/// TXT data: one or more <character-string>s (RFC 1035 3.3.14), each a
/// length octet and that many bytes; they must fill the data exactly.
fn read_strings(mut rdata: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
    if rdata.is_empty() {
        return Err(WireError::BadRdata);
    }
    let mut out = Vec::new();
    while let Some((&len, rest)) = rdata.split_first() {
        let (s, tail) = rest
            .split_at_checked(len as usize)
            .ok_or(WireError::BadRdata)?;
        out.push(s.to_vec());
        rdata = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response header: ID 0x1234, QR and RD and RA set, the given
    /// RCODE and counts (QD, AN, NS, AR).
    fn header(rcode: u8, counts: [u16; 4]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80 | rcode];
        for c in counts {
            m.extend_from_slice(&c.to_be_bytes());
        }
        m
    }

    /// The question `example.org` type `qtype` IN, at offset 12.
    fn question(m: &mut Vec<u8>, qtype: u16) {
        encode_name("example.org", m).unwrap();
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
    }

    /// A record owned by a pointer to the question name (offset 12).
    fn record(m: &mut Vec<u8>, rtype: u16, ttl: u32, rdata: &[u8]) {
        m.extend_from_slice(&[0xC0, 12]);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    fn answer(rtype: u16, rdata: &[u8]) -> Vec<u8> {
        let mut m = header(0, [1, 1, 0, 0]);
        question(&mut m, rtype);
        record(&mut m, rtype, 300, rdata);
        m
    }

    #[test]
    fn query_has_question_and_edns_opt() {
        let q = build_query(0xBEEF, "Example.ORG.", TYPE_TXT).unwrap();
        assert_eq!(&q[..12], &[0xBE, 0xEF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1]);
        assert_eq!(&q[12..25], b"\x07Example\x03ORG\x00");
        assert_eq!(&q[25..29], &[0, 16, 0, 1]);
        // OPT: root, type 41, payload 1232, TTL 0, RDLENGTH 0.
        assert_eq!(&q[29..], &[0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn query_refuses_bad_names() {
        assert_eq!(build_query(1, "a..b", TYPE_A), Err(WireError::BadLabel));
        assert_eq!(
            build_query(1, &"a".repeat(64), TYPE_A),
            Err(WireError::BadLabel)
        );
        assert!(build_query(1, &"a".repeat(63), TYPE_A).is_ok());
        let long = vec!["abcdefghi"; 26].join("."); // 26 * 10 + 1 = 261 octets
        assert_eq!(build_query(1, &long, TYPE_A), Err(WireError::NameTooLong));
        let fits = vec!["abcdefghi"; 25].join("."); // 251 octets
        assert!(build_query(1, &fits, TYPE_A).is_ok());
    }

    #[test]
    fn parses_each_record_type() {
        let m = parse_response(&answer(TYPE_A, &[192, 0, 2, 1])).unwrap();
        assert_eq!(m.id, 0x1234);
        assert_eq!(m.question.name, Name("EXAMPLE.org".into()));
        assert_eq!(m.answers[0].data, Rdata::A(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(m.answers[0].ttl, 300);
        let v6 = "2001:db8::1".parse::<Ipv6Addr>().unwrap();
        let m = parse_response(&answer(TYPE_AAAA, &v6.octets())).unwrap();
        assert_eq!(m.answers[0].data, Rdata::Aaaa(v6));
        // MX 10 mx.<pointer to example.org>
        let m = parse_response(&answer(TYPE_MX, b"\x00\x0a\x02mx\xc0\x0c")).unwrap();
        assert_eq!(
            m.answers[0].data,
            Rdata::Mx(10, Name("mx.example.org".into()))
        );
        let m = parse_response(&answer(TYPE_PTR, b"\x01h\xc0\x0c")).unwrap();
        assert_eq!(m.answers[0].data, Rdata::Ptr(Name("h.example.org".into())));
        let m = parse_response(&answer(TYPE_TXT, b"\x06v=spf1\x05 -all\x00")).unwrap();
        assert_eq!(
            m.answers[0].data,
            Rdata::Txt(vec![b"v=spf1".to_vec(), b" -all".to_vec(), vec![]])
        );
        let m = parse_response(&answer(TYPE_CNAME, b"\x01c\xc0\x0c")).unwrap();
        assert_eq!(
            m.answers[0].data,
            Rdata::Cname(Name("c.example.org".into()))
        );
    }

    #[test]
    fn soa_in_authority_gives_minimum() {
        let mut m = header(RCODE_NXDOMAIN, [1, 0, 1, 0]);
        question(&mut m, TYPE_TXT);
        let mut soa = b"\x02ns\xc0\x0c\x0ahostmaster\xc0\x0c".to_vec();
        for v in [1u32, 2, 3, 4, 60] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        record(&mut m, TYPE_SOA, 900, &soa);
        let p = parse_response(&m).unwrap();
        assert_eq!(p.rcode, RCODE_NXDOMAIN);
        assert_eq!(
            p.authority[0].data,
            Rdata::Soa {
                mname: Name("ns.example.org".into()),
                minimum: 60
            }
        );
        // One byte short of the five counters.
        let mut short = header(RCODE_NXDOMAIN, [1, 0, 1, 0]);
        question(&mut short, TYPE_TXT);
        record(&mut short, TYPE_SOA, 900, &soa[..soa.len() - 1]);
        assert_eq!(parse_response(&short), Err(WireError::BadRdata));
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        let mut full = answer(TYPE_MX, b"\x00\x0a\x02mx\xc0\x0c");
        full.extend_from_slice(&[]);
        for n in 0..full.len() {
            assert!(parse_response(&full[..n]).is_err(), "prefix of {n} bytes");
        }
        assert!(parse_response(&full).is_ok());
    }

    #[test]
    fn trailing_bytes_and_oversized_counts_are_refused() {
        let mut m = answer(TYPE_A, &[1, 2, 3, 4]);
        m.push(0);
        assert_eq!(parse_response(&m), Err(WireError::BadCounts));
        // ANCOUNT 65535 with one record present: runs out, no huge Vec.
        let mut m = answer(TYPE_A, &[1, 2, 3, 4]);
        m[6..8].copy_from_slice(&[0xFF, 0xFF]);
        assert_eq!(parse_response(&m), Err(WireError::BadCounts));
        let mut m = answer(TYPE_A, &[1, 2, 3, 4]);
        m[6..8].copy_from_slice(&[0x01, 0x00]); // 256: under the cap, but absent
        assert_eq!(parse_response(&m), Err(WireError::Truncated));
    }

    #[test]
    fn not_a_response_or_not_one_question() {
        let mut m = answer(TYPE_A, &[1, 2, 3, 4]);
        m[2] &= 0x7F; // QR = 0: a query
        assert_eq!(parse_response(&m), Err(WireError::NotAResponse));
        let mut m = answer(TYPE_A, &[1, 2, 3, 4]);
        m[5] = 2;
        assert_eq!(parse_response(&m), Err(WireError::NotAResponse));
    }

    #[test]
    fn truncated_flag_stops_after_the_question() {
        let mut m = header(0, [1, 3, 0, 0]);
        m[2] |= 0x02; // TC
        question(&mut m, TYPE_TXT);
        m.extend_from_slice(&[0xC0, 12, 0]); // a cut-off record
        let p = parse_response(&m).unwrap();
        assert!(p.truncated);
        assert!(p.answers.is_empty());
    }

    #[test]
    fn compression_loops_and_forward_pointers_are_refused() {
        // A pointer to itself.
        let mut m = header(0, [1, 0, 0, 0]);
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        // A forward pointer (to offset 14, after itself).
        let mut m = header(0, [1, 0, 0, 0]);
        m.extend_from_slice(&[0xC0, 14, 0, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        // Two names pointing at each other: a's label, then a pointer to
        // b; b's label, then a pointer back to a (offset 12).
        let mut m = header(0, [1, 1, 0, 0]);
        question(&mut m, TYPE_A);
        let a = m.len();
        m.extend_from_slice(&[1, b'a', 0xC0, (a + 4) as u8, 1, b'b', 0xC0, a as u8]);
        m.extend_from_slice(&[0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
        // A pointer past the end.
        let mut m = header(0, [1, 0, 0, 0]);
        m.extend_from_slice(&[0xFF, 0xFF]);
        assert_eq!(parse_response(&m), Err(WireError::BadPointer));
    }

    #[test]
    fn chained_backward_pointers_are_fine() {
        // example.org at 12; "mx" + pointer to 12 in the MX; then a PTR
        // whose name is "h" + pointer to the MX's "mx" label.
        let mut m = header(0, [1, 2, 0, 0]);
        question(&mut m, TYPE_MX);
        let mx_label = m.len() + 12 + 2;
        record(&mut m, TYPE_MX, 60, b"\x00\x01\x02mx\xc0\x0c");
        let rd = [1, b'h', 0xC0, mx_label as u8];
        record(&mut m, TYPE_MX, 60, &[&[0u8, 2][..], &rd].concat());
        let p = parse_response(&m).unwrap();
        assert_eq!(
            p.answers[1].data,
            Rdata::Mx(2, Name("h.mx.example.org".into()))
        );
    }

    #[test]
    fn long_labels_and_names_are_refused() {
        let mut m = header(0, [1, 0, 0, 0]);
        m.push(64);
        m.extend_from_slice(&[b'a'; 64]);
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadLabel));
        // 0x40 / 0x80 label types.
        let mut m = header(0, [1, 0, 0, 0]);
        m.extend_from_slice(&[0x41, 0, 0, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::BadLabel));
        // Five labels of 63 = 321 octets: over 255 even via pointers.
        let mut m = header(0, [1, 0, 0, 0]);
        for _ in 0..5 {
            m.push(63);
            m.extend_from_slice(&[b'x'; 63]);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(parse_response(&m), Err(WireError::NameTooLong));
    }

    #[test]
    fn rdata_lengths_are_checked() {
        assert_eq!(
            parse_response(&answer(TYPE_A, &[1, 2, 3])),
            Err(WireError::BadRdata)
        );
        assert_eq!(
            parse_response(&answer(TYPE_AAAA, &[0; 15])),
            Err(WireError::BadRdata)
        );
        assert_eq!(
            parse_response(&answer(TYPE_MX, b"\x00\x01")),
            Err(WireError::BadRdata)
        );
        // A TXT string longer than the record data.
        assert_eq!(
            parse_response(&answer(TYPE_TXT, b"\x09short")),
            Err(WireError::BadRdata)
        );
        assert_eq!(
            parse_response(&answer(TYPE_TXT, b"")),
            Err(WireError::BadRdata)
        );
        // A CNAME whose name runs past RDLENGTH into the next bytes.
        let mut m = header(0, [1, 1, 0, 0]);
        question(&mut m, TYPE_CNAME);
        record(&mut m, TYPE_CNAME, 1, b"\x01c");
        m.extend_from_slice(&[0]);
        m[7] = 1;
        assert!(parse_response(&m).is_err());
        // Unknown types are skipped whatever they hold.
        assert_eq!(
            parse_response(&answer(99, b"\xff\xff")).unwrap().answers[0].data,
            Rdata::Other
        );
    }

    #[test]
    fn odd_bytes_in_labels_are_escaped() {
        let mut m = header(0, [1, 0, 0, 0]);
        m.extend_from_slice(b"\x03a.b\x02c \x00\x00\x01\x00\x01");
        let p = parse_response(&m).unwrap();
        assert_eq!(p.question.name.0, "a\\046b.c\\032");
        assert_eq!(presentation("a b.c"), Name("a\\032b.c".into()));
    }

    #[test]
    fn plain_undoes_the_escapes_where_a_str_can_hold_the_name() {
        for plain in [
            "mail.example.org",
            "foo:bar/baz.example.com",
            "a b\\c.d",
            "é.example",
            "",
        ] {
            assert_eq!(
                presentation(plain).plain().as_deref(),
                Some(plain),
                "{plain}"
            );
        }
        // A '.' inside a label, bytes that are not UTF-8, broken escapes.
        for name in ["a\\046b.c", "\\255x.example", "a\\05", "a\\999"] {
            assert_eq!(Name(name.into()).plain(), None, "{name}");
        }
    }

    #[test]
    fn ttl_with_top_bit_reads_as_zero() {
        let mut m = header(0, [1, 1, 0, 0]);
        question(&mut m, TYPE_A);
        record(&mut m, TYPE_A, 0x8000_0000, &[1, 2, 3, 4]);
        assert_eq!(parse_response(&m).unwrap().answers[0].ttl, 0);
    }
}
