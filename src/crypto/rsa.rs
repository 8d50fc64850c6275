//! RSA public keys and RSASSA-PKCS1-v1_5 verification with SHA-256
//! (RFC 8017 section 8.2.2), for DKIM's rsa-sha256 (RFC 6376 section
//! 3.3.1; RFC 8301 drops rsa-sha1).
//!
//! The key comes from DNS (the `p=` tag, RFC 6376 section 3.6.1) and the
//! signature from the message, so both are hostile: parsing is strict DER
//! with fixed bounds, the numbers live in fixed arrays of at most 4096
//! bits on the stack, and nothing here can panic or allocate. The
//! arithmetic is Montgomery multiplication on 32-bit limbs with 64-bit
//! products, which compiles to plain multiply instructions on the 32-bit
//! targets too. Verification handles no secret, so nothing is constant
//! time. A verification takes about 6.5 KB of stack (x86_64, release),
//! well within a session thread's 64 KiB.

/// The largest modulus taken, in bits: RFC 8301 section 3.2 asks verifiers
/// to handle 1024 to 4096; a larger key would only cost time.
const MAX_BITS: usize = 4096;
/// The smallest modulus taken at parse time, in bits. DKIM's floor of 1024
/// (RFC 8301 section 3.2) is the caller's policy, through [`PublicKey::bits`];
/// 512 keeps the EMSA-PKCS1-v1_5 encoding well formed (RFC 8017 section
/// 9.2 step 3 needs at least 62 bytes for SHA-256).
const MIN_BITS: usize = 512;
/// 32-bit limbs in the largest modulus.
const MAX: usize = MAX_BITS / 32;

/// A number below 2^4096, least significant limb first.
type Limbs = [u32; MAX];

/// RFC 8017 section 9.2 note 1: DER of DigestInfo { sha256, NULL } up to
/// the OCTET STRING's header, followed by the 32 digest bytes.
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// The OID rsaEncryption, 1.2.840.113549.1.1.1 (RFC 8017 appendix A.1),
/// as DER contents.
const RSA_ENCRYPTION: [u8; 9] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OID: u8 = 0x06;

/// Why a key was refused, for `reason="…"` in Authentication-Results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// Not strict DER of a SubjectPublicKeyInfo or an RSAPublicKey:
    /// truncated, a wrong tag, an indefinite or non-minimal length,
    /// trailing bytes, or unexpected algorithm parameters.
    Der,
    /// A SubjectPublicKeyInfo whose algorithm is not rsaEncryption.
    NotRsa,
    /// An INTEGER that is negative or not minimally encoded.
    Integer,
    /// A modulus longer than 4096 bits.
    TooLarge,
    /// A modulus shorter than 512 bits.
    TooSmall,
    /// An even modulus (no RSA modulus is).
    EvenModulus,
    /// A public exponent that is even, below 3 or above 2^64 - 1.
    Exponent,
}

impl KeyError {
    /// A short explanation, safe to quote in a header.
    pub fn text(&self) -> &'static str {
        match self {
            KeyError::Der => "key is not valid DER",
            KeyError::NotRsa => "key algorithm is not rsaEncryption",
            KeyError::Integer => "key has a negative or non-minimal integer",
            KeyError::TooLarge => "RSA key longer than 4096 bits",
            KeyError::TooSmall => "RSA key shorter than 512 bits",
            KeyError::EvenModulus => "RSA modulus is even",
            KeyError::Exponent => "RSA exponent is even, below 3 or above 64 bits",
        }
    }
}

/// An RSA public key (RFC 8017 section 3.1): an odd modulus of 512 to
/// 4096 bits and an odd public exponent from 3 to 2^64 - 1.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PublicKey {
    /// The modulus, least significant limb first; limbs from `len` on are 0.
    n: Limbs,
    /// Limbs in use: ceil(bits / 32).
    len: usize,
    /// The modulus' length in bits, 512 to 4096.
    bits: usize,
    /// The public exponent: odd, at least 3.
    e: u64,
}

/// One DER element with tag `tag` at the front of `d` (X.690 section 10.1:
/// definite, minimal lengths): its contents and the bytes after it.
fn take(d: &[u8], tag: u8) -> Result<(&[u8], &[u8]), KeyError> {
    let [t, l, rest @ ..] = d else {
        return Err(KeyError::Der);
    };
    if *t != tag {
        return Err(KeyError::Der);
    }
    let (len, rest) = match (*l, rest) {
        (0..=0x7f, _) => (*l as usize, rest),
        (0x81, [a, rest @ ..]) if *a >= 0x80 => (*a as usize, rest),
        (0x82, [a, b, rest @ ..]) if *a != 0 => ((*a as usize) << 8 | *b as usize, rest),
        // 0x80 is BER's indefinite length; three length bytes and more
        // mean 64 KiB or more, beyond any key taken here.
        _ => return Err(KeyError::Der),
    };
    if rest.len() < len {
        return Err(KeyError::Der);
    }
    Ok(rest.split_at(len))
}

/// The magnitude of a DER INTEGER that must be non-negative (X.690
/// section 8.3: two's complement, no redundant leading byte), without its
/// sign byte; zero gives an empty slice.
fn unsigned(c: &[u8]) -> Result<&[u8], KeyError> {
    match c {
        [] => Err(KeyError::Der),
        [a, ..] if a & 0x80 != 0 => Err(KeyError::Integer),
        [0, b, ..] if b & 0x80 == 0 => Err(KeyError::Integer),
        [0, rest @ ..] => Ok(rest),
        _ => Ok(c),
    }
}

/// Big-endian bytes (at most 4 * MAX of them) as limbs.
fn from_be(b: &[u8]) -> Limbs {
    let mut x = [0u32; MAX];
    for (i, v) in b.iter().rev().enumerate().take(4 * MAX) {
        x[i / 4] |= (*v as u32) << (8 * (i % 4));
    }
    x
}

/// x < y, for numbers of the same number of limbs.
fn less(x: &[u32], y: &[u32]) -> bool {
    match x.iter().rev().zip(y.iter().rev()).find(|(a, b)| a != b) {
        Some((a, b)) => a < b,
        None => false,
    }
}

impl PublicKey {
    /// Parses a key from DER: a SubjectPublicKeyInfo (RFC 5280 section
    /// 4.1.2.7) with algorithm rsaEncryption and NULL or absent parameters
    /// (RFC 3279 section 2.3.1), as RFC 6376 section 3.6.1 specifies for
    /// `p=`, or a bare RSAPublicKey (RFC 8017 appendix A.1.1), which some
    /// published DKIM keys are.
    pub fn from_der(der: &[u8]) -> Result<PublicKey, KeyError> {
        let (body, rest) = take(der, SEQUENCE)?;
        if !rest.is_empty() {
            return Err(KeyError::Der);
        }
        // An RSAPublicKey starts with an INTEGER, a SubjectPublicKeyInfo
        // with the AlgorithmIdentifier SEQUENCE.
        let key = if body.first() == Some(&SEQUENCE) {
            let (alg, rest) = take(body, SEQUENCE)?;
            let (oid, params) = take(alg, OID)?;
            if oid != RSA_ENCRYPTION {
                return Err(KeyError::NotRsa);
            }
            if !params.is_empty() && params != [0x05, 0x00] {
                return Err(KeyError::Der);
            }
            let (bits, rest) = take(rest, BIT_STRING)?;
            if !rest.is_empty() {
                return Err(KeyError::Der);
            }
            // The first byte counts the unused bits of the last one.
            let [0, inner @ ..] = bits else {
                return Err(KeyError::Der);
            };
            let (key, rest) = take(inner, SEQUENCE)?;
            if !rest.is_empty() {
                return Err(KeyError::Der);
            }
            key
        } else {
            body
        };
        let (n, rest) = take(key, INTEGER)?;
        let (e, rest) = take(rest, INTEGER)?;
        if !rest.is_empty() {
            return Err(KeyError::Der);
        }
        let (n, e) = (unsigned(n)?, unsigned(e)?);
        let bits = match n.first() {
            Some(top) => 8 * n.len() - top.leading_zeros() as usize,
            None => 0,
        };
        if bits > MAX_BITS {
            return Err(KeyError::TooLarge);
        }
        if bits < MIN_BITS {
            return Err(KeyError::TooSmall);
        }
        if n[n.len() - 1] & 1 == 0 {
            return Err(KeyError::EvenModulus);
        }
        // RFC 8017 section 3.1 only asks 3 <= e < n; DKIM keys use 65537
        // and 3, and an exponent in a u64 bounds the work per signature
        // to 126 multiplications for e (17 for 65537).
        if e.len() > 8 || e.last().is_none_or(|b| b & 1 == 0) {
            return Err(KeyError::Exponent);
        }
        let e = e.iter().fold(0u64, |a, b| a << 8 | *b as u64);
        if e < 3 {
            return Err(KeyError::Exponent);
        }
        Ok(PublicKey {
            n: from_be(n),
            len: bits.div_ceil(32),
            bits,
            e,
        })
    }

    /// The modulus' length in bits (RFC 8301 section 3.2's policy is the
    /// caller's: at least 1024 for DKIM).
    /// The limbs in use: never more than MAX (from_der refuses longer
    /// keys). The `min` says so to the compiler, which then drops the
    /// bounds checks of the `[..len]` slices.
    fn len(&self) -> usize {
        self.len.min(MAX)
    }

    pub fn bits(&self) -> usize {
        self.bits
    }

    /// RSASSA-PKCS1-v1_5-VERIFY with SHA-256 (RFC 8017 section 8.2.2) of
    /// a message whose SHA-256 is `digest`: true if `sig` is a valid
    /// signature under this key.
    ///
    /// The recovered block is compared whole with the one encoding that
    /// EMSA-PKCS1-v1_5 (section 9.2) gives for the digest, as section
    /// 8.2.2 steps 3 and 4 say: parsing it instead is what let Bleichenbacher
    /// forge signatures for e = 3 (2006) by hiding garbage after a short
    /// padding or inside the DigestInfo.
    pub fn verify_pkcs1_sha256(&self, digest: &[u8; 32], sig: &[u8]) -> bool {
        // (bits is at most MAX_BITS; the `min` tells the compiler.)
        let k = self.bits.min(MAX_BITS).div_ceil(8);
        // Step 1: the signature is exactly k bytes long.
        if sig.len() != k {
            return false;
        }
        let s = from_be(sig);
        // Step 2.b, RSAVP1 (section 5.2.2): s must be below n.
        if !less(&s[..self.len()], &self.n[..self.len()]) {
            return false;
        }
        let m = self.pow(&s);
        // Steps 2.c to 4: the k bytes of m against EM = 0x00 0x01 PS 0x00
        // T, PS being k - 54 bytes 0xff and T the DigestInfo.
        (0..k).all(|i| {
            let pos = k - 1 - i;
            let got = (m[pos / 4] >> (8 * (pos % 4))) as u8;
            let want = match i {
                0 => 0,
                1 => 1,
                _ if i < k - 52 => 0xff,
                _ if i == k - 52 => 0,
                _ if i < k - 32 => SHA256_DIGEST_INFO[i - (k - 51)],
                _ => digest[i - (k - 32)],
            };
            got == want
        })
    }

    /// [`PublicKey::verify_pkcs1_sha256`] of a whole message.
    pub fn verify_pkcs1_sha256_msg(&self, msg: &[u8], sig: &[u8]) -> bool {
        self.verify_pkcs1_sha256(&super::sha2::sha256(msg), sig)
    }

    /// s^e mod n, for s < n, by Montgomery multiplication (R = 2^(32 len)).
    fn pow(&self, s: &Limbs) -> Limbs {
        let len = self.len();
        // -n^-1 mod 2^32 by Newton's iteration: each step doubles the
        // correct low bits, and 1 is right for the lowest one (n is odd).
        let mut inv = 1u32;
        for _ in 0..5 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(self.n[0].wrapping_mul(inv)));
        }
        let n0 = inv.wrapping_neg();
        // R^2 mod n, to bring s into Montgomery form: 2^(bits - 1) < n,
        // doubled up to 2^(32 len + 32) mod n, which is 2^32 in
        // Montgomery form; its len-th power is R in Montgomery form, R^2.
        let mut x = [0u32; MAX];
        x[(self.bits - 1) / 32] = 1 << ((self.bits - 1) % 32);
        for _ in self.bits - 1..32 * len + 32 {
            let mut carry = 0;
            for v in &mut x[..len] {
                let top = *v >> 31;
                *v = *v << 1 | carry;
                carry = top;
            }
            self.reduce(&mut x, carry != 0);
        }
        let rr = self.mont_pow(&x, len as u64, n0);
        let s = self.mont(s, &rr, n0);
        let m = self.mont_pow(&s, self.e, n0);
        let mut one = [0u32; MAX];
        one[0] = 1;
        self.mont(&m, &one, n0)
    }

    /// a^e in Montgomery form, left to right over e's bits (e >= 1).
    fn mont_pow(&self, a: &Limbs, e: u64, n0: u32) -> Limbs {
        let mut acc = *a;
        for i in (0..63 - e.leading_zeros()).rev() {
            acc = self.mont(&acc, &acc, n0);
            if e >> i & 1 == 1 {
                acc = self.mont(&acc, a, n0);
            }
        }
        acc
    }

    /// x - n if x (plus `carry` * R) is at least n: keeps x below n when
    /// it was below 2n.
    fn reduce(&self, x: &mut Limbs, carry: bool) {
        let (x, n) = (&mut x[..self.len()], &self.n[..self.len()]);
        if carry || !less(x, n) {
            // Modulo R, which drops the carry.
            let mut borrow = false;
            for (a, b) in x.iter_mut().zip(n) {
                let (d, b1) = a.overflowing_sub(*b);
                let (d, b2) = d.overflowing_sub(borrow as u32);
                *a = d;
                borrow = b1 | b2;
            }
        }
    }

    /// a b R^-1 mod n for a, b < n: Montgomery multiplication, the
    /// product and the reduction interleaved limb by limb (Koç, Acar and
    /// Kaliski 1996, "CIOS"). Step i adds a_i b and the m n that clears
    /// limb i, so the running sum moves up one limb a step instead of
    /// being shifted; it stays below 2n, so len + 1 limbs hold it and
    /// one subtraction at the end reduces it.
    fn mont(&self, a: &Limbs, b: &Limbs, n0: u32) -> Limbs {
        let len = self.len();
        let (n, b) = (&self.n[..len], &b[..len]);
        let mut t = [0u32; 2 * MAX + 1];
        for (i, &ai) in a[..len].iter().enumerate() {
            let m = t[i].wrapping_add(ai.wrapping_mul(b[0])).wrapping_mul(n0) as u64;
            let ai = ai as u64;
            let (mut c1, mut c2) = (0, 0);
            // Two carries, as t + a_i b_j + c1 and then + m n_j + c2 each
            // fit in 64 bits where the sum of both might not.
            for (tj, (&bj, &nj)) in t[i..i + len].iter_mut().zip(b.iter().zip(n)) {
                let x = *tj as u64 + ai * bj as u64 + c1;
                let y = x as u32 as u64 + m * nj as u64 + c2;
                *tj = y as u32;
                (c1, c2) = (x >> 32, y >> 32);
            }
            let x = t[i + len] as u64 + c1 + c2;
            t[i + len] = x as u32;
            t[i + len + 1] = (x >> 32) as u32;
        }
        let mut r = [0u32; MAX];
        r[..len].copy_from_slice(&t[len..2 * len]);
        self.reduce(&mut r, t[2 * len] != 0);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::sha2::sha256;
    use crate::crypto::testjson::unhex;
    use crate::crypto::vector_file;

    /// A DER element with a minimal definite length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let n = content.len();
        let mut v = vec![tag];
        match n {
            0..=0x7f => v.push(n as u8),
            0x80..=0xff => v.extend([0x81, n as u8]),
            _ => v.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        v.extend_from_slice(content);
        v
    }

    /// An INTEGER of the unsigned big-endian `mag`, sign byte added.
    fn uint(mag: &[u8]) -> Vec<u8> {
        let mut c = mag.to_vec();
        while c.len() > 1 && c[0] == 0 && c[1] & 0x80 == 0 {
            c.remove(0);
        }
        if c.first().is_none_or(|b| b & 0x80 != 0) {
            c.insert(0, 0);
        }
        tlv(INTEGER, &c)
    }

    /// RSAPublicKey { n, e } (RFC 8017 appendix A.1.1).
    fn pkcs1(n: &[u8], e: &[u8]) -> Vec<u8> {
        tlv(SEQUENCE, &[uint(n), uint(e)].concat())
    }

    /// SubjectPublicKeyInfo around `key`, with the given algorithm
    /// contents (OID and parameters).
    fn spki_alg(alg: &[u8], key: &[u8]) -> Vec<u8> {
        let bits = tlv(BIT_STRING, &[&[0][..], key].concat());
        tlv(SEQUENCE, &[tlv(SEQUENCE, alg), bits].concat())
    }

    fn rsa_alg() -> Vec<u8> {
        [tlv(OID, &RSA_ENCRYPTION), vec![5, 0]].concat()
    }

    fn spki(key: &[u8]) -> Vec<u8> {
        spki_alg(&rsa_alg(), key)
    }

    /// Every vector of one Wycheproof file; returns (valid, invalid,
    /// acceptable) counts.
    fn wycheproof(name: &str) -> (usize, usize, usize) {
        let j = vector_file(name);
        assert_eq!(j.get("schema").str(), "rsassa_pkcs1_verify_schema_v1.json");
        let (mut valid, mut invalid, mut acceptable) = (0, 0, 0);
        for g in j.get("testGroups").arr() {
            assert_eq!(g.get("sha").str(), "SHA-256");
            let key = PublicKey::from_der(&unhex(g.get("publicKeyDer").str()))
                .unwrap_or_else(|e| panic!("{name}: publicKeyDer: {}", e.text()));
            assert_eq!(key.bits() as u64, g.get("keySize").num());
            // The same key as a bare RSAPublicKey parses to the same thing.
            let pk = g.get("publicKey");
            let bare = pkcs1(
                &unhex(pk.get("modulus").str()),
                &unhex(pk.get("publicExponent").str()),
            );
            assert_eq!(
                PublicKey::from_der(&bare),
                Ok(key.clone()),
                "{name}: bare PKCS#1"
            );
            for t in g.get("tests").arr() {
                let id = t.get("tcId").num();
                let ok = key.verify_pkcs1_sha256_msg(
                    &unhex(t.get("msg").str()),
                    &unhex(t.get("sig").str()),
                );
                let want = match t.get("result").str() {
                    "valid" => {
                        valid += 1;
                        true
                    }
                    "invalid" => {
                        invalid += 1;
                        false
                    }
                    // The acceptable vectors are a DigestInfo without the
                    // NULL parameters (flag MissingNull). Refused: RFC
                    // 8017 section 8.2.2 steps 3 and 4 compare with the
                    // one encoding EMSA-PKCS1-v1_5 builds, and section
                    // 9.2 note 1 gives it for SHA-256 with the NULL.
                    // Wycheproof allows the other form because appendix
                    // B.1 has SHA-2 AlgorithmIdentifiers accepted either
                    // way; but signers (OpenSSL, GnuTLS, Go's crypto/rsa,
                    // and the DKIM signers on them) write the NULL, and a
                    // second accepted form would be one more way in for
                    // a forgery, for no mail seen.
                    "acceptable" => {
                        acceptable += 1;
                        let flags = t.get("flags").arr();
                        assert!(
                            flags.iter().all(|f| f.str() == "MissingNull"),
                            "{name} #{id}: {flags:?}"
                        );
                        false
                    }
                    r => panic!("{name} #{id}: result {r}"),
                };
                assert_eq!(ok, want, "{name} #{id}: {}", t.get("comment").str());
            }
        }
        eprintln!("{name}: {valid} valid, {invalid} invalid, {acceptable} acceptable (refused)");
        assert_eq!(
            (valid + invalid + acceptable) as u64,
            j.get("numberOfTests").num(),
            "{name}"
        );
        (valid, invalid, acceptable)
    }

    #[test]
    fn wycheproof_2048() {
        wycheproof("rsa_signature_2048_sha256_test.json");
    }

    #[test]
    fn wycheproof_3072() {
        wycheproof("rsa_signature_3072_sha256_test.json");
    }

    #[test]
    fn wycheproof_4096() {
        wycheproof("rsa_signature_4096_sha256_test.json");
    }

    /// An RSA-2048 key with e = 3 made for these tests (`openssl genrsa
    /// -3 2048`), as SubjectPublicKeyInfo and as bare RSAPublicKey.
    const E3_SPKI: &str = concat!(
        "30820120300d06092a864886f70d01010105000382010d00308201080282010100b5f8b184bffbcf",
        "5e034f6c7c5031fe1c8c930dec3aa4f6aeb6bc2b3c2b5055fea10ef6e41220b2ca16590fa2e107fb",
        "f661df3e8d15eb1e86fe5206c5d722057ed28b27ca611d3843e297a76cb733ff0c6408792084c1ee",
        "2e50b381312b4f279a22801ed11faa0077ce38a9b5d81e97ab99ccddc94d3d873dae9560faa4f933",
        "cff26acb6fe99196c9b303e023fabc4b759897771db28bcea2510237db552d576e23b7743b5c02e2",
        "91b3742e30b77ac0b71a61300e0aa373e1ed7f52056f7473db06b6542367a5b2c8f9adc96669636f",
        "eb45ffe91f73f14cdedaef6133ee12c9ade715ef6a3b696771d7418f12c03555043fa07fafe4f481",
        "0f1a9286a7a83a645f020103",
    );
    const E3_PKCS1: &str = concat!(
        "308201080282010100b5f8b184bffbcf5e034f6c7c5031fe1c8c930dec3aa4f6aeb6bc2b3c2b5055",
        "fea10ef6e41220b2ca16590fa2e107fbf661df3e8d15eb1e86fe5206c5d722057ed28b27ca611d38",
        "43e297a76cb733ff0c6408792084c1ee2e50b381312b4f279a22801ed11faa0077ce38a9b5d81e97",
        "ab99ccddc94d3d873dae9560faa4f933cff26acb6fe99196c9b303e023fabc4b759897771db28bce",
        "a2510237db552d576e23b7743b5c02e291b3742e30b77ac0b71a61300e0aa373e1ed7f52056f7473",
        "db06b6542367a5b2c8f9adc96669636feb45ffe91f73f14cdedaef6133ee12c9ade715ef6a3b6967",
        "71d7418f12c03555043fa07fafe4f4810f1a9286a7a83a645f020103",
    );
    /// The message the e = 3 signatures below are about.
    const E3_MSG: &[u8] = b"tinymx forged";
    /// Its genuine signature (`openssl dgst -sha256 -sign`).
    const E3_VALID: &str = concat!(
        "33488e4863ed8f80dc6e6741ebbd81c093a9b9011b4b01b6f19164e01415972981061b27aebc288c",
        "49b5228b05d9fada4a6463739083ec113b296c3f36f92db3f21d5679c7df1e4d41a88f1709db4962",
        "44797baf58605157a8eb362f276f5c388eb37e2d5ce72c7cd2c2f2a742c41c29a2d7c57525a51a79",
        "e6f0f31314f908bb0d1949a28eabe8b11cad378a5a5ad41913372b2cc502addf0e10e24f94db2c77",
        "e435b8569c3b103b9b9d4f3c737854abebbb41e2513c4114117ea9f64f8a6eca23e90a0b578e7b88",
        "246a87adebfd7d114e8f4bde1f338ba969509c041e0d2f8bf0e2ffb13f0b66228c2e1c205a1cf646",
        "5557960b50ecc54216c55ddeec19234b",
    );
    /// Bleichenbacher's 2006 forgery, made without the private key: the
    /// integer cube root, rounded up, of 00 01 FF*8 00 DigestInfo digest
    /// followed by 201 bytes of garbage. Its cube is below n, so
    /// s^3 mod n starts with that well-formed prefix; a verifier that
    /// parses the block and stops after the digest takes it.
    const E3_FORGED: &str = concat!(
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "00000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "000000000000000000000032cbfd4a7adc7905583d767520f51640759176d37826f2ef63ae3dc7ad",
        "6411f19d5beb01def140c5f79bf1e1581f76aa92a8f58888a83ec57a2816c87f605d4970c98bb579",
        "18e705aeca2fea364836f50d7e3beb06",
    );
    /// Made with the private key: full-length padding, DigestInfo,
    /// digest, then "GARB" (the padding shortened by those 4 bytes).
    const E3_GARBAGE: &str = concat!(
        "0708013e2427497b5e3c2477922511364c529cfd2dd41ae019d6f812498e30b9c0cdc749e8b70406",
        "fe4ce9fb525204248a5e4489d0bb160eb3e2b5e5822010af900b56f2e4b11a675b760bd2bac83e68",
        "851141dc66ee593e3894470369f973dc387936ba3f3fbf6ed92fdbaafc3250a5b38ff4db5a2c08e9",
        "c112d0cdbc33c5e1183f45c1eaff215f82e1540ed723efd1ad9ad1aa591c3d72760d26d8b379caf8",
        "3a08f40d94353ce49fb17c465bd459dd26ddccae6c3899a99b98b93647636a11a79a772c040638bf",
        "66e1be44b16d523b8cb42f0564fea830c5bfabedf5f2ae6b58ee93d7c2f3a663ef0cdedebb144610",
        "5b10f6c412a80a893cc19cfd781681b9",
    );

    #[test]
    fn e3_key_verifies_its_signature_and_refuses_forgeries() {
        let key = PublicKey::from_der(&unhex(E3_SPKI)).unwrap();
        assert_eq!(PublicKey::from_der(&unhex(E3_PKCS1)), Ok(key.clone()));
        assert_eq!((key.bits(), key.e), (2048, 3));
        assert!(key.verify_pkcs1_sha256_msg(E3_MSG, &unhex(E3_VALID)));
        assert!(!key.verify_pkcs1_sha256_msg(b"tinymx forgex", &unhex(E3_VALID)));
        let forged = unhex(E3_FORGED);
        // The forgery is what it claims: its cube (here, s^3 < n, so
        // also s^3 mod n) is the short padding, DigestInfo and digest.
        let m = key.pow(&from_be(&forged));
        let mut head = vec![0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0];
        head.extend(SHA256_DIGEST_INFO);
        head.extend(sha256(E3_MSG));
        let got: Vec<u8> = (0..256)
            .map(|i| (m[(255 - i) / 4] >> (8 * ((255 - i) % 4))) as u8)
            .collect();
        assert_eq!(got[..head.len()], head[..]);
        assert!(!key.verify_pkcs1_sha256_msg(E3_MSG, &forged));
        assert!(!key.verify_pkcs1_sha256_msg(E3_MSG, &unhex(E3_GARBAGE)));
    }

    /// Keys whose size is no multiple of 32 bits (a partial top limb) or
    /// of 8 (a partial top byte), from the smallest taken to near the
    /// largest: (modulus, signature of "tinymx"), e = 65537, made with
    /// `openssl genrsa`.
    const ODD_SIZES: [(&str, &str); 4] = [
        // 512 bits, e = 65537
        (
            concat!(
                "cd3c4f7f1a4ff6792789467285824a5fc13ee16b4a031d97fe1c30e766860158236720fbc07d6405",
                "0c6e9e0a2f1367a8693bba6f2f4b4bd7b1f07202e816d549",
            ),
            concat!(
                "27789b89395dfe99c0df73c32fc47efd8f25e0bd0431d8e47ffdb66fc2d75dabc57f677e71ee4875",
                "f156c0928f2755489343d0c6154b02d25fdaf0d226ef4503",
            ),
        ),
        // 1025 bits, e = 65537
        (
            concat!(
                "01451878537046af7f589b603f2e767cd72db62af6e0a6ccdfe01f4f609fc8a162d49d7d1115768f",
                "8efffb7be5d7de594e2803b6038f0c7a94d118fe0a2c1597af724b995cd008f59af55c1de7f332c6",
                "33a7ee09b9b2fddb5ea6c96e50fa7005fa639bf3fdedc91bbc08d482a5295139c2ead0eccd30a8bb",
                "9624201a1322d49345",
            ),
            concat!(
                "013dabf1d7fb6b5d28c7924cdd0a6683fa8e02129930db952ac50f4dd7c2d47f96340c30e46bfcde",
                "2b358c709e31f9699c51849462d85ce8ed1462533d3df943bee0a2010abec0a331c51f5eb9ed0853",
                "42ea19c5a2aa67a2c41a4ea5890ab327008efb8dbc5f62dcaf720330addb637f3fa9301bed404f30",
                "441c89d9b39ea661cf",
            ),
        ),
        // 2047 bits, e = 65537
        (
            concat!(
                "65c78d2a456a04dab5467dc47ee9422f4da070b3397935238315b68cfb5bbf5eb46cc502a5eb56c9",
                "80dab90e99c6209243bfaf04966ce111b314e17aae5f76ebea62c6628815e0ac63b635c2d779d58e",
                "bb47c4ebce76a2acbf83a7b8171419fc48e1420873ee9b97395f72546a14a50cab2cdb38467d7d54",
                "3b48104630483e23aeba465a01af80dd869456d313b03ec3822b8db16d1db014dfac506c4f390349",
                "b3571b8999fccd516968ca830b99406c2595008e7dc87df34c72829e73b493747f7dbc0550509eb5",
                "d074be6e7ed972cd2ededb9fd23b3af610cfaf3d23b3324267277a3e3d301cf48e354dca613be9a1",
                "c628eb571591c15b2e18adb84e74305b",
            ),
            concat!(
                "529b1069fc5a7025103cfb40663c2f8e7a16a753ea0fb5ac83e15771010c1f9ac94a13574e6a8925",
                "6d8e7c9f35167829649050000e620f835eb4bd6ce5e5fd67077f0d90eda1c7b4c9f173c5c3bf3eb0",
                "936d6f981625e5b3869cd99b0b53ef6d79ce88c23dc64bd2f18e5ac1e5fd2afa62fa34b23f6e5b66",
                "e1957430f51ebaf8c736a2ba7959e4b970d9a55f74958cac17ac1e81dc5dc869d2e6e4e9325ab75b",
                "4ffcce203d4d5c9b6eff1babf1de3e34c2e0416e21d546546bd574f918ba7c60182966f1700cb3d1",
                "4d9d15d4b21a6a04349569443ca57d15259548ee5e7776e0d80cc7146106040031bfda026fdcff72",
                "ce16a2dfba1bf95dd92d02b0eea2aaa7",
            ),
        ),
        // 4094 bits, e = 65537
        (
            concat!(
                "35cf64eb46996e19e6a23d90fd49beedbd53f5f104c78d587c45d7041099d2b1a4a113e9b5bdf991",
                "1c643c4340da72c72b023c1edf974c20fe76768335ca63c4144eaa7c0deb5dcd389d14e35011af54",
                "af1aadb66066078773fa0f0a85b379276e6f564962a599ed7fd5a4b1a6bbb1151b4e0ad97528bbc7",
                "24f22898d497747acc2188c462ff1d4cc2bb36fb008d3e52148f89b87094efa721a335a7527e8bc6",
                "dee72e61458008bbefb521003bbabe197e809795c9f7b4cf397adcbfaa8b505e62fd8c267ff1e53a",
                "8e57c6b6ccf86ff912dfff6fe5c4c3cc2093d075d51ed6e3ef263a2b929f8f5684a05b22fc168f10",
                "3e69d0259c6259578c913b54ef89911ddbe1f1e9bf7d776988f03596598e7e9a99644d9190badc61",
                "f64d03e4e152da16863494ce3ef44b9056c3daabd631fd5f2167a75b3914ecae92eddff31d7252b6",
                "508c712e94e8aa39b45b7fb7ae6a76ce296a79103033b62b532eb43e71d5c76a6e5a0ea7dee756b3",
                "7368c3f8287eda03fc7ef0052e057540a02ed6d6e9f437e370882e90ae59bce3b623379887bdcfc9",
                "148a5e91afe6e30daf57c1f59d0b07bd472839bab774f83f3e4a45d3cd352b97562e2eb366a8f754",
                "c198742ab9311def5bbe5d4922ba1ca6efbbe054f4965724f2c85405f568cb6c52216e8fe4e0a0a2",
                "e15743478c841a878845a673c12b77f85bfe6799a0e5aafde2c7860915ffacc1",
            ),
            concat!(
                "1737136adf60651bfc78b34d3767cd19fc21eae6e3fb160b82c18c6c76ce23575290fb80163e056d",
                "1eab910346d27e5ce1f78a1387a08b82134428562f7ae80a8957a0da9c7a21bf5a4f9a293eff237e",
                "b0e36502b9cc0b99e5953d6815f6d17310c1bf0c765929a7dc14eeaad44184d930301c936ff5f280",
                "706041580b28dae52bd9a7e7e81f35c7032fdfba72d14991cce72aeae12745b08af0a8bf7a689820",
                "05f13b640519d9b1a819c704a3f093a3ebc4cd7b0c37c1e314320777a7fcea6a77291bcec1e43b9f",
                "3e1b1054da94ea15ce7748e7541a588fd56a43da3d2a2c77d717daabee5ced643faebfcad36d96cb",
                "14fcb1557dbd47a306ae6821023f7f1952a7e387cd91542a407c8c8106c6be1222958dcc2cf86f11",
                "f6fb2cbe79e8b1e870b82986a019f8cc476a63a349de2392d762e22f1ab755bcef2c7ffed974fd0c",
                "55b10fe0fdf179d675e1cb5d0155759feb2fc90819000346ca01b8f7e04ca806cd918a2733438bf0",
                "bd28146fe534157666873f4d819560a3d69b6c5b0482c3d462458e294c0f3408ac73ecaad3c6b54d",
                "9557e2948c5e7cc95f29be259105d0d094a9596207d114db4740c53956cf8d238552ef5f638db1e5",
                "90fa2cacac9ed951f53209ee8cf79af23280d61b3c16309e7f4cf80da14ad7a03aed061b52c79a93",
                "4434bcc05ab4198d2840571d7733f67686e7cd9c34728d595bbeae4f61bc0ec5",
            ),
        ),
    ];

    #[test]
    fn odd_sizes_verify_and_refuse_changes() {
        for (n, sig) in ODD_SIZES {
            let (n, sig) = (unhex(n), unhex(sig));
            let key = PublicKey::from_der(&pkcs1(&n, &[1, 0, 1])).unwrap();
            let bits = key.bits();
            let digest = sha256(b"tinymx");
            assert!(key.verify_pkcs1_sha256(&digest, &sig), "{bits} bits");
            for i in [0, sig.len() / 2, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x10;
                assert!(
                    !key.verify_pkcs1_sha256(&digest, &bad),
                    "{bits} bits, byte {i}"
                );
            }
            let mut other = digest;
            other[31] ^= 1;
            assert!(!key.verify_pkcs1_sha256(&other, &sig), "{bits} bits");
            // Step 1: exactly k bytes, so no leading zero added or dropped.
            assert!(!key.verify_pkcs1_sha256(&digest, &[&[0][..], &sig].concat()));
            assert!(!key.verify_pkcs1_sha256(&digest, &sig[1..]));
            assert!(!key.verify_pkcs1_sha256(&digest, &[]));
            // Step 2: s = n and s = n + sig are out of range (the latter
            // only where it still fits in k bytes), 0 and 1 are no block.
            assert!(!key.verify_pkcs1_sha256(&digest, &n));
            assert!(!key.verify_pkcs1_sha256(&digest, &vec![0xff; n.len()]));
            assert!(!key.verify_pkcs1_sha256(&digest, &vec![0; n.len()]));
            let mut one = vec![0; n.len()];
            one[n.len() - 1] = 1;
            assert!(!key.verify_pkcs1_sha256(&digest, &one));
        }
    }

    /// A modulus of `bits` bits, odd, as big-endian bytes (none for 0).
    fn modulus(bits: usize) -> Vec<u8> {
        if bits == 0 {
            return vec![];
        }
        let mut n = vec![0xa5; bits.div_ceil(8)];
        n[0] = 0xff >> ((8 - bits % 8) % 8);
        *n.last_mut().unwrap() |= 1;
        n
    }

    #[test]
    fn key_sizes() {
        for bits in [512, 513, 1024, 2047, 4095, 4096] {
            let key = PublicKey::from_der(&pkcs1(&modulus(bits), &[3])).unwrap();
            assert_eq!(key.bits(), bits);
            assert_eq!(
                PublicKey::from_der(&spki(&pkcs1(&modulus(bits), &[3]))),
                Ok(key)
            );
        }
        for bits in [4097, 8192] {
            let e = PublicKey::from_der(&spki(&pkcs1(&modulus(bits), &[1, 0, 1])));
            assert_eq!(e, Err(KeyError::TooLarge), "{bits}");
        }
        for bits in [0, 8, 511] {
            let e = PublicKey::from_der(&pkcs1(&modulus(bits), &[1, 0, 1]));
            assert_eq!(e, Err(KeyError::TooSmall), "{bits}");
        }
    }

    #[test]
    fn der_is_strict() {
        let n = modulus(1024);
        let good = pkcs1(&n, &[1, 0, 1]);
        let good_spki = spki(&good);
        let ok = PublicKey::from_der(&good).unwrap();
        assert_eq!(PublicKey::from_der(&good_spki), Ok(ok.clone()));
        // Parameters absent instead of NULL.
        assert_eq!(
            PublicKey::from_der(&spki_alg(&tlv(OID, &RSA_ENCRYPTION), &good)),
            Ok(ok.clone())
        );
        let der = |d: &[u8]| PublicKey::from_der(d).err();
        let bad = Some(KeyError::Der);
        assert_eq!(der(&[]), bad, "empty");
        assert_eq!(der(&[0x30, 0]), bad, "empty SEQUENCE");
        assert_eq!(der(&spki(&[])), bad, "empty BIT STRING contents");
        // Truncated anywhere, including in the middle of a length.
        for key in [&good, &good_spki] {
            for i in 0..key.len() {
                assert_eq!(der(&key[..i]), bad, "truncated to {i}");
            }
        }
        // Trailing bytes after the key, inside the RSAPublicKey, inside
        // the BIT STRING, and in the AlgorithmIdentifier.
        assert_eq!(der(&[&good[..], &[0]].concat()), bad);
        assert_eq!(der(&[&good_spki[..], &[0, 0]].concat()), bad);
        assert_eq!(
            der(&tlv(SEQUENCE, &[uint(&n), uint(&[3]), uint(&[3])].concat())),
            bad
        );
        assert_eq!(der(&spki(&[&good[..], &[0]].concat())), bad);
        let alg = [rsa_alg(), vec![5, 0]].concat();
        assert_eq!(der(&spki_alg(&alg, &good)), bad);
        // Parameters other than NULL; a NULL with contents.
        assert_eq!(
            der(&spki_alg(
                &[tlv(OID, &RSA_ENCRYPTION), vec![4, 0]].concat(),
                &good
            )),
            bad
        );
        assert_eq!(
            der(&spki_alg(
                &[tlv(OID, &RSA_ENCRYPTION), vec![5, 1, 0]].concat(),
                &good
            )),
            bad
        );
        // Unused bits in the BIT STRING.
        let bs = good_spki.len() - good.len() - 4;
        assert_eq!(good_spki[bs..bs + 4], [BIT_STRING, 0x81, 0x8d, 0]);
        let mut unused = good_spki.clone();
        unused[bs + 3] = 1;
        assert_eq!(der(&unused), bad);
        // Over-long: a length beyond the data, at every level.
        let mut long = good.clone();
        long[2] += 1;
        assert_eq!(der(&long), bad);
        let mut long = good.clone();
        long[5] += 1; // the modulus' length
        assert_eq!(der(&long), bad);
        // Lengths of 3 and 4 bytes, even with a small value.
        assert_eq!(der(&[&[0x30, 0x83, 0, 0][..], &good[2..]].concat()), bad);
        assert_eq!(der(&[&[0x30, 0x84, 0, 0, 0][..], &good[2..]].concat()), bad);
        // Indefinite length, with its end-of-contents octets.
        let body = &good[3..];
        assert_eq!(der(&[&[0x30, 0x80][..], body, &[0, 0]].concat()), bad);
        // Non-minimal lengths: long form for a short length, and a
        // leading zero length byte.
        let small = tlv(SEQUENCE, &[uint(&[0x41; 8]), uint(&[3])].concat());
        assert_eq!(small[1] as usize, small.len() - 2);
        let nonmin = [&[0x30, 0x81][..], &small[1..]].concat();
        assert_eq!(der(&nonmin), bad);
        assert_eq!(der(&[&[0x30, 0x82, 0][..], &small[1..]].concat()), bad);
        let nonmin2 = [&[0x30, 0x82, 0][..], &good[2..]].concat();
        assert_eq!(der(&nonmin2), bad);
        // Wrong tags: a SET, an OCTET STRING for the BIT STRING.
        assert_eq!(der(&[&[0x31][..], &good[1..]].concat()), bad);
        let mut octets = good_spki.clone();
        octets[bs] = 0x04;
        assert_eq!(der(&octets), bad);
        // Integers: negative modulus, non-minimal, zero-length.
        let mut neg = n.clone();
        neg[0] |= 0x80;
        let int = |n: &[u8], e: &[u8]| tlv(SEQUENCE, &[tlv(INTEGER, n), tlv(INTEGER, e)].concat());
        let n1023 = modulus(1023);
        assert!(PublicKey::from_der(&int(&n1023, &[3])).is_ok());
        assert_eq!(
            der(&int(&neg, &[3])),
            Some(KeyError::Integer),
            "negative modulus"
        );
        assert_eq!(
            der(&int(&n1023, &[0x81])),
            Some(KeyError::Integer),
            "negative exponent"
        );
        assert_eq!(
            der(&int(&[&[0][..], &n1023].concat(), &[3])),
            Some(KeyError::Integer),
            "leading 00"
        );
        assert_eq!(
            der(&int(&n1023, &[0, 3])),
            Some(KeyError::Integer),
            "leading 00"
        );
        assert_eq!(
            der(&int(&[0xff, 0x80], &[3])),
            Some(KeyError::Integer),
            "leading ff"
        );
        assert_eq!(der(&int(&n1023, &[])), bad, "empty INTEGER");
        assert_eq!(der(&int(&[], &[3])), bad, "empty INTEGER");
        // Modulus and exponent values.
        let mut even = n.clone();
        *even.last_mut().unwrap() &= 0xfe;
        assert_eq!(der(&pkcs1(&even, &[3])), Some(KeyError::EvenModulus));
        for e in [
            &[0][..],
            &[1],
            &[2],
            &[1, 0, 0],
            &[0x80; 9],
            &[1, 0, 0, 0, 0, 0, 0, 0, 1],
        ] {
            assert_eq!(der(&pkcs1(&n, e)), Some(KeyError::Exponent), "e = {e:?}");
        }
        let big = PublicKey::from_der(&pkcs1(&n, &[0xff; 8])).unwrap();
        assert_eq!(big.e, u64::MAX);
        // Algorithms other than rsaEncryption: RSASSA-PSS, id-ecPublicKey,
        // Ed25519; and a longer OID that starts the same.
        let pss = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
        let ec = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let longer = [&RSA_ENCRYPTION[..], &[1]].concat();
        for oid in [&pss[..], &ec, &[0x2b, 0x65, 0x70], &longer] {
            assert_eq!(
                der(&spki_alg(&tlv(OID, oid), &good)),
                Some(KeyError::NotRsa),
                "{oid:?}"
            );
        }
        // A SubjectPublicKeyInfo inside a SubjectPublicKeyInfo.
        assert_eq!(der(&spki(&good_spki)), bad);
        // Every error explains itself differently.
        let all = [
            KeyError::Der,
            KeyError::NotRsa,
            KeyError::Integer,
            KeyError::TooLarge,
            KeyError::TooSmall,
            KeyError::EvenModulus,
            KeyError::Exponent,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(!a.text().is_empty() && !a.text().contains(['"', '\\']));
            assert!(all[i + 1..].iter().all(|b| a.text() != b.text()));
        }
    }

    /// Verify time in the release build:
    /// `cargo test --release --lib crypto::rsa::tests::speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn speed() {
        for (name, runs) in [("2048", 2000), ("3072", 1000), ("4096", 500)] {
            let j = vector_file(&format!("rsa_signature_{name}_sha256_test.json"));
            let g = &j.get("testGroups").arr()[0];
            let key = PublicKey::from_der(&unhex(g.get("publicKeyDer").str())).unwrap();
            let t = g
                .get("tests")
                .arr()
                .iter()
                .find(|t| t.get("result").str() == "valid")
                .unwrap();
            let digest = sha256(&unhex(t.get("msg").str()));
            let sig = unhex(t.get("sig").str());
            let start = std::time::Instant::now();
            for _ in 0..runs {
                assert!(key.verify_pkcs1_sha256(std::hint::black_box(&digest), &sig));
            }
            let each = start.elapsed() / runs;
            eprintln!("RSA-{name}, e = {}: {each:?} per verify", key.e);
        }
    }
}
