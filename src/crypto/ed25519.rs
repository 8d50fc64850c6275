//! Ed25519 signature verification (RFC 8032 section 5.1.7), for DKIM's
//! `ed25519-sha256` (RFC 8463). Verification only, so nothing here is
//! secret and nothing needs constant time; what matters is that every
//! input, however hostile (keys come from DNS, signatures from the
//! message), gives `true` or `false` and never a panic.
//!
//! The rules, and why:
//! - Lengths: a key is 32 bytes and a signature 64 (section 5.1.5); any
//!   other length is `false`.
//! - S must be < L (section 5.1.7 step 1, section 8.4): otherwise S + L
//!   would be a second valid signature for the same message.
//! - A is decoded as section 5.1.3 says, strictly: y >= p (a non-canonical
//!   encoding) is refused, as is x = 0 with the sign bit set. RFC 8032
//!   calls such strings invalid, and accepting them would give one key
//!   several encodings.
//! - A of small order ([8]A = identity: the 8 torsion points, among them
//!   the all-zero key and the identity) is refused. RFC 8032 does not
//!   ask for it, but under such a key anyone can forge: with A = identity,
//!   R = [S]B verifies for every message. A DNS record publishing one is
//!   broken or hostile either way (libsodium refuses them too).
//! - The equation is the cofactorless one, checked on encodings: compute
//!   R' = [S]B - [k]A and compare its canonical encoding with the 32 bytes
//!   of R (section 5.1.7 step 3: checking [S]B = R + [k]A instead of
//!   [8][S]B = [8]R + [8][k]A "is sufficient"). R is never decoded.
//!
//! Wycheproof does not decide these choices: its 151 vectors pass with
//! them, and also with a lenient decoding of A and R and the cofactored
//! equation (tried). Its InvalidEncoding vectors (a bit of R flipped, or
//! the sign of x, S recomputed) only demand that every bit of R counts,
//! which a 32-byte comparison gives for free. The choices are ours, then,
//! and made for: (1) small code, as R needs no decoding (no second square
//! root) and no point comparison; (2) one accepted encoding per signature:
//! an R with a torsion component (which the cofactored equation accepts)
//! or an R encoded with y >= p (which a lenient decoder accepts) is
//! refused, see `self_made_signatures`; (3) the same answers as the
//! common verifiers (OpenSSL, which OpenDKIM uses, Go's crypto/ed25519,
//! libsodium): they too compute [S]B - [k]A and compare encodings.
//! Honest signers (section 5.1.6) produce R = [r]B, which passes both.
//!
//! Field arithmetic mod p = 2^255 - 19 uses 5 limbs of 51 bits with u128
//! products: the shortest correct code (25 products, one carry chain, no
//! alternating 26/25-bit limbs as in the 10-limb form). On 32-bit targets
//! (armv7, mipsel) u128 products become library calls, which is slower
//! but only matters for a handful of DKIM signatures per message.
//! No precomputed tables: the base point is decoded from its encoding.

use super::sha2::Sha512;

/// A field element mod p: limbs of 51 bits, value = sum l[i] * 2^(51 i).
/// Every function returns limbs < 2^52 (weakly reduced); the bytes are
/// canonical only through [`to_bytes`].
type Fe = [u64; 5];

const MASK: u64 = (1 << 51) - 1;
const ZERO: Fe = [0; 5];
const ONE: Fe = [1, 0, 0, 0, 0];

/// d = -121665 / 121666 mod p (section 5.1), little-endian.
const D: [u8; 32] = [
    0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
    0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52,
];

/// sqrt(-1) = 2^((p-1)/4) mod p (section 5.1.3 step 3), little-endian.
const SQRT_M1: [u8; 32] = [
    0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
    0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b,
];

/// The encoding of the base point B (section 5.1: y = 4/5, x even).
const BASE: [u8; 32] = {
    let mut b = [0x66; 32];
    b[0] = 0x58;
    b
};

/// L, the order of B (section 5.1), as little-endian 64-bit words.
const L: [u64; 4] = [
    0x5812631a5cf5d3ed,
    0x14def9dea2f79cd6,
    0,
    0x1000000000000000,
];

/// An exponent 2^248 * hi + (2^248 - 256) + lo: both exponents needed
/// below have only 0xff bytes between their lowest and highest byte.
const fn exponent(lo: u8, hi: u8) -> [u8; 32] {
    let mut e = [0xff; 32];
    e[0] = lo;
    e[31] = hi;
    e
}

/// p - 2: x^(p-2) = 1/x (Fermat).
const P_MINUS_2: [u8; 32] = exponent(0xeb, 0x7f);
/// (p - 5) / 8 = 2^252 - 3, for the square root of section 5.1.3 step 3.
const P_MINUS_5_OVER_8: [u8; 32] = exponent(0xfd, 0x0f);

/// Little-endian bytes (at most 8) as a word.
fn le64(b: &[u8]) -> u64 {
    b.iter().rev().fold(0, |w, &x| (w << 8) | u64::from(x))
}

/// Carries each limb's excess into the next, the top one times 19
/// (2^255 = 19 mod p). Input limbs < 2^60; output limbs < 2^52.
fn carry(mut l: [u64; 5]) -> Fe {
    for i in 0..4 {
        l[i + 1] += l[i] >> 51;
        l[i] &= MASK;
    }
    l[0] += 19 * (l[4] >> 51);
    l[4] &= MASK;
    l
}

fn add(a: &Fe, b: &Fe) -> Fe {
    carry([
        a[0] + b[0],
        a[1] + b[1],
        a[2] + b[2],
        a[3] + b[3],
        a[4] + b[4],
    ])
}

/// a - b as a + 4p - b, so no limb goes below zero (b's limbs < 2^52 <
/// those of 4p, which are 2^53 - 76 and 2^53 - 4).
fn sub(a: &Fe, b: &Fe) -> Fe {
    const P4: [u64; 5] = [(MASK - 18) * 4, MASK * 4, MASK * 4, MASK * 4, MASK * 4];
    let mut r = [0; 5];
    for i in 0..5 {
        r[i] = a[i] + P4[i] - b[i];
    }
    carry(r)
}

fn neg(a: &Fe) -> Fe {
    sub(&ZERO, a)
}

/// Schoolbook product; a product term that lands at 2^255 or above is
/// folded back times 19. With limbs < 2^52 each column is < 5 * 19 *
/// 2^104 < 2^111, so u128 never overflows.
fn mul(a: &Fe, b: &Fe) -> Fe {
    let mut t = [0u128; 5];
    for (i, &x) in a.iter().enumerate() {
        for (j, &y) in b.iter().enumerate() {
            let (k, f) = if i + j < 5 {
                (i + j, 1)
            } else {
                (i + j - 5, 19)
            };
            t[k] += u128::from(x) * u128::from(y * f);
        }
    }
    let mut r = [0u64; 5];
    let mut c = 0u128;
    for i in 0..5 {
        let v = t[i] + c;
        r[i] = v as u64 & MASK;
        c = v >> 51;
    }
    // c < 2^61: the fold times 19 is done in u128.
    let v = u128::from(r[0]) + c * 19;
    r[0] = v as u64 & MASK;
    r[1] += (v >> 51) as u64;
    r
}

fn sq(a: &Fe) -> Fe {
    mul(a, a)
}

/// x^e by square-and-multiply over e's 255 low bits (no secret here).
fn pow(x: &Fe, e: &[u8; 32]) -> Fe {
    let mut r = ONE;
    for i in (0..255).rev() {
        r = sq(&r);
        if (e[i / 8] >> (i % 8)) & 1 == 1 {
            r = mul(&r, x);
        }
    }
    r
}

/// The low 255 bits as a field element (bit 255 is the caller's: the
/// sign of x in a point encoding). Values p..2^255-1 come in unreduced;
/// [`to_bytes`] tells them apart.
fn from_bytes(b: &[u8; 32]) -> Fe {
    let w = [
        le64(&b[0..8]),
        le64(&b[8..16]),
        le64(&b[16..24]),
        le64(&b[24..32]),
    ];
    [
        w[0] & MASK,
        ((w[0] >> 51) | (w[1] << 13)) & MASK,
        ((w[1] >> 38) | (w[2] << 26)) & MASK,
        ((w[2] >> 25) | (w[3] << 39)) & MASK,
        (w[3] >> 12) & MASK,
    ]
}

/// The canonical encoding: the unique value in 0..p, little-endian.
fn to_bytes(a: &Fe) -> [u8; 32] {
    // Two carry passes leave every limb < 2^51 and the value < 2^255 (the
    // second pass's fold from the top adds at most 19 to a small limb 0).
    let mut l = carry(carry(*a));
    // The value v is now < 2^255 < 2p; v >= p exactly when v + 19
    // carries out of bit 255. Then v - p = v + 19 - 2^255.
    let mut q = (l[0] + 19) >> 51;
    for x in &l[1..] {
        q = (x + q) >> 51;
    }
    l[0] += 19 * q;
    for i in 0..4 {
        l[i + 1] += l[i] >> 51;
        l[i] &= MASK;
    }
    l[4] &= MASK;
    let w = [
        l[0] | (l[1] << 51),
        (l[1] >> 13) | (l[2] << 38),
        (l[2] >> 26) | (l[3] << 25),
        (l[3] >> 39) | (l[4] << 12),
    ];
    let mut out = [0; 32];
    for (o, w) in out.chunks_exact_mut(8).zip(w) {
        o.copy_from_slice(&w.to_le_bytes());
    }
    out
}

fn eq(a: &Fe, b: &Fe) -> bool {
    to_bytes(a) == to_bytes(b)
}

/// A point in extended coordinates (section 5.1.4): x = X/Z, y = Y/Z,
/// x y = T/Z.
#[derive(Clone, Copy)]
struct Point {
    x: Fe,
    y: Fe,
    z: Fe,
    t: Fe,
}

const IDENTITY: Point = Point {
    x: ZERO,
    y: ONE,
    z: ONE,
    t: ZERO,
};

/// 2d as limbs (2 * D mod p in radix 2^51; the test
/// `d2_is_twice_d` checks it), which point_add would otherwise compute
/// on every call.
const D2: Fe = [
    0x69b9426b2f159,
    0x35050762add7a,
    0x3cf44c0038052,
    0x6738cc7407977,
    0x2406d9dc56dff,
];

/// P + Q, section 5.1.4's formulas (a = -1, with 2d). They are complete on
/// this curve (d is not a square), so they also double and take the
/// identity: one formula serves for everything.
fn point_add(p: &Point, q: &Point) -> Point {
    let a = mul(&sub(&p.y, &p.x), &sub(&q.y, &q.x));
    let b = mul(&add(&p.y, &p.x), &add(&q.y, &q.x));
    let c = mul(&mul(&p.t, &q.t), &D2);
    let zz = mul(&p.z, &q.z);
    let d = add(&zz, &zz);
    let (e, f, g, h) = (sub(&b, &a), sub(&d, &c), add(&d, &c), add(&b, &a));
    Point {
        x: mul(&e, &f),
        y: mul(&g, &h),
        t: mul(&e, &h),
        z: mul(&f, &g),
    }
}

/// Section 5.1.3: a 32-byte string to a point, or None when it is not the
/// canonical encoding of one.
fn decode(s: &[u8; 32]) -> Option<Point> {
    let sign = s[31] >> 7;
    let y = from_bytes(s);
    // Step 1: y >= p is refused (a non-canonical encoding).
    let mut low = *s;
    low[31] &= 0x7f;
    if to_bytes(&y) != low {
        return None;
    }
    // Step 2: x^2 = u / v with u = y^2 - 1, v = d y^2 + 1.
    let y2 = sq(&y);
    let u = sub(&y2, &ONE);
    let v = add(&mul(&from_bytes(&D), &y2), &ONE);
    // Step 3: candidate x = u v^3 (u v^7)^((p-5)/8).
    let v3 = mul(&sq(&v), &v);
    let v7 = mul(&sq(&v3), &v);
    let mut x = mul(&mul(&u, &v3), &pow(&mul(&u, &v7), &P_MINUS_5_OVER_8));
    let vx2 = mul(&v, &sq(&x));
    if eq(&vx2, &neg(&u)) {
        x = mul(&x, &from_bytes(&SQRT_M1));
    } else if !eq(&vx2, &u) {
        return None; // u / v is not a square: no point has this y
    }
    // Step 4: x = 0 has no negative; otherwise pick x's sign.
    let xb = to_bytes(&x);
    if xb == [0; 32] && sign == 1 {
        return None;
    }
    if xb[0] & 1 != sign {
        x = neg(&x);
    }
    Some(Point {
        x,
        y,
        z: ONE,
        t: mul(&x, &y),
    })
}

/// Section 5.1.2: y with the low bit of x in bit 255.
fn encode(p: &Point) -> [u8; 32] {
    let zinv = pow(&p.z, &P_MINUS_2);
    let mut s = to_bytes(&mul(&p.y, &zinv));
    s[31] |= (to_bytes(&mul(&p.x, &zinv))[0] & 1) << 7;
    s
}

/// A scalar as little-endian 64-bit words.
type Scalar = [u64; 4];

fn scalar_from(b: &[u8]) -> Scalar {
    let mut w = [0; 4];
    for (w, c) in w.iter_mut().zip(b.chunks(8)) {
        *w = le64(c);
    }
    w
}

/// a >= b, comparing from the top word.
fn ge(a: &Scalar, b: &Scalar) -> bool {
    for i in (0..4).rev() {
        if a[i] != b[i] {
            return a[i] > b[i];
        }
    }
    true
}

/// A 512-bit little-endian number mod L, one bit at a time from the top:
/// r = 2r + bit, minus L when r >= L. r < L < 2^253 keeps 2r + 1 within
/// four words. 512 short steps: small code, and fast enough for one hash
/// per signature.
fn reduce512(h: &[u8; 64]) -> Scalar {
    let mut r: Scalar = [0; 4];
    for i in (0..512).rev() {
        let bit = u64::from((h[i / 8] >> (i % 8)) & 1);
        r = [
            r[0] << 1 | bit,
            r[1] << 1 | r[0] >> 63,
            r[2] << 1 | r[1] >> 63,
            r[3] << 1 | r[2] >> 63,
        ];
        if ge(&r, &L) {
            let mut borrow = 0;
            for (x, l) in r.iter_mut().zip(L) {
                let (d, b1) = x.overflowing_sub(l);
                let (d, b2) = d.overflowing_sub(borrow);
                *x = d;
                borrow = u64::from(b1 | b2);
            }
        }
    }
    r
}

fn bit(s: &Scalar, i: usize) -> usize {
    ((s[i / 64] >> (i % 64)) & 1) as usize
}

/// [s]P + [k]Q by one shared double-and-add over both scalars (Straus),
/// with P + Q precomputed. Both scalars are < L < 2^253.
fn double_mul(s: &Scalar, p: &Point, k: &Scalar, q: &Point) -> Point {
    let pq = point_add(p, q);
    let mut r = IDENTITY;
    for i in (0..253).rev() {
        r = point_add(&r, &r);
        match bit(s, i) + 2 * bit(k, i) {
            1 => r = point_add(&r, p),
            2 => r = point_add(&r, q),
            3 => r = point_add(&r, &pq),
            _ => {}
        }
    }
    r
}

/// Whether `sig` is a valid Ed25519 signature of `msg` under
/// `public_key` (RFC 8032 section 5.1.7, pure Ed25519, no context). A key
/// must be 32 bytes and a signature 64; anything else is `false`, as is a
/// key that does not decode, a key of small order, S >= L, or an R that
/// is not the canonical encoding of [S]B - [k]A (see the module comment
/// for why each). Never panics.
pub fn verify(public_key: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let (Ok(key), Ok(sig)) = (
        <&[u8; 32]>::try_from(public_key),
        <&[u8; 64]>::try_from(sig),
    ) else {
        return false;
    };
    let (r, s) = sig.split_at(32);
    // Step 1: S in 0..L (malleability, section 8.4).
    let s = scalar_from(s);
    if ge(&s, &L) {
        return false;
    }
    let (Some(a), Some(b)) = (decode(key), decode(&BASE)) else {
        return false;
    };
    // Small order: [8]A is the identity, whose x is 0 (x = 0 also holds
    // for (0, -1), of order 2, which [8]A cannot be).
    let mut a8 = a;
    for _ in 0..3 {
        a8 = point_add(&a8, &a8);
    }
    if to_bytes(&a8.x) == [0; 32] {
        return false;
    }
    // Step 2: k = SHA-512(R || A || M) mod L.
    let mut h = Sha512::new();
    h.update(r);
    h.update(key);
    h.update(msg);
    let k = reduce512(&h.finish());
    // Step 3, cofactorless: [S]B + [k](-A) must encode to R itself.
    let minus_a = Point {
        x: neg(&a.x),
        t: neg(&a.t),
        ..a
    };
    encode(&double_mul(&s, &b, &k, &minus_a)) == r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d2_is_twice_d() {
        assert_eq!(
            to_bytes(&D2),
            to_bytes(&add(&from_bytes(&D), &from_bytes(&D)))
        );
    }
    use crate::crypto::testjson::unhex;
    use crate::crypto::vector_file;

    fn fe(hex_le: &str) -> Fe {
        from_bytes(&unhex(hex_le).try_into().unwrap())
    }

    fn small(n: u64) -> Fe {
        carry([n, 0, 0, 0, 0])
    }

    /// Every vector of Wycheproof's ed25519_test.json: valid ones verify,
    /// invalid ones do not, and none is skipped.
    #[test]
    fn wycheproof() {
        let file = vector_file("ed25519_test.json");
        let (mut valid, mut invalid, mut wrong) = (0, 0, Vec::new());
        for group in file.get("testGroups").arr() {
            let pk = unhex(group.get("publicKey").get("pk").str());
            for t in group.get("tests").arr() {
                let ok = verify(&pk, &unhex(t.get("msg").str()), &unhex(t.get("sig").str()));
                let want = match t.get("result").str() {
                    "valid" => true,
                    "invalid" => false,
                    other => panic!("result {other:?}"),
                };
                if want {
                    valid += 1;
                } else {
                    invalid += 1;
                }
                if ok != want {
                    wrong.push(format!(
                        "tcId {} ({})",
                        t.get("tcId").num(),
                        t.get("comment").str()
                    ));
                }
            }
        }
        println!("wycheproof ed25519: {valid} valid, {invalid} invalid");
        assert_eq!(valid + invalid, file.get("numberOfTests").num());
        assert!(wrong.is_empty(), "wrong answers: {wrong:?}");
    }

    /// RFC 8032 section 7.1: (public key, message, signature).
    const RFC8032: [(&str, &str, &str); 5] = [
        (
            // TEST 1
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            // TEST 2
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            // TEST 3
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
        (
            // TEST 1024 (a 1023-byte message)
            "278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e",
            concat!(
                "08b8b2b733424243760fe426a4b54908632110a66c2f6591eabd3345e3e4eb98",
                "fa6e264bf09efe12ee50f8f54e9f77b1e355f6c50544e23fb1433ddf73be84d8",
                "79de7c0046dc4996d9e773f4bc9efe5738829adb26c81b37c93a1b270b20329d",
                "658675fc6ea534e0810a4432826bf58c941efb65d57a338bbd2e26640f89ffbc",
                "1a858efcb8550ee3a5e1998bd177e93a7363c344fe6b199ee5d02e82d522c4fe",
                "ba15452f80288a821a579116ec6dad2b3b310da903401aa62100ab5d1a36553e",
                "06203b33890cc9b832f79ef80560ccb9a39ce767967ed628c6ad573cb116dbef",
                "efd75499da96bd68a8a97b928a8bbc103b6621fcde2beca1231d206be6cd9ec7",
                "aff6f6c94fcd7204ed3455c68c83f4a41da4af2b74ef5c53f1d8ac70bdcb7ed1",
                "85ce81bd84359d44254d95629e9855a94a7c1958d1f8ada5d0532ed8a5aa3fb2",
                "d17ba70eb6248e594e1a2297acbbb39d502f1a8c6eb6f1ce22b3de1a1f40cc24",
                "554119a831a9aad6079cad88425de6bde1a9187ebb6092cf67bf2b13fd65f270",
                "88d78b7e883c8759d2c4f5c65adb7553878ad575f9fad878e80a0c9ba63bcbcc",
                "2732e69485bbc9c90bfbd62481d9089beccf80cfe2df16a2cf65bd92dd597b07",
                "07e0917af48bbb75fed413d238f5555a7a569d80c3414a8d0859dc65a46128ba",
                "b27af87a71314f318c782b23ebfe808b82b0ce26401d2e22f04d83d1255dc51a",
                "ddd3b75a2b1ae0784504df543af8969be3ea7082ff7fc9888c144da2af58429e",
                "c96031dbcad3dad9af0dcbaaaf268cb8fcffead94f3c7ca495e056a9b47acdb7",
                "51fb73e666c6c655ade8297297d07ad1ba5e43f1bca32301651339e22904cc8c",
                "42f58c30c04aafdb038dda0847dd988dcda6f3bfd15c4b4c4525004aa06eeff8",
                "ca61783aacec57fb3d1f92b0fe2fd1a85f6724517b65e614ad6808d6f6ee34df",
                "f7310fdc82aebfd904b01e1dc54b2927094b2db68d6f903b68401adebf5a7e08",
                "d78ff4ef5d63653a65040cf9bfd4aca7984a74d37145986780fc0b16ac451649",
                "de6188a7dbdf191f64b5fc5e2ab47b57f7f7276cd419c17a3ca8e1b939ae49e4",
                "88acba6b965610b5480109c8b17b80e1b7b750dfc7598d5d5011fd2dcc5600a3",
                "2ef5b52a1ecc820e308aa342721aac0943bf6686b64b2579376504ccc493d97e",
                "6aed3fb0f9cd71a43dd497f01f17c0e2cb3797aa2a2f256656168e6c496afc5f",
                "b93246f6b1116398a346f1a641f3b041e989f7914f90cc2c7fff357876e506b5",
                "0d334ba77c225bc307ba537152f3f1610e4eafe595f6d9d90d11faa933a15ef1",
                "369546868a7f3a45a96768d40fd9d03412c091c6315cf4fde7cb68606937380d",
                "b2eaaa707b4c4185c32eddcdd306705e4dc1ffc872eeee475a64dfac86aba41c",
                "0618983f8741c5ef68d3a101e8a3b8cac60c905c15fc910840b94c00a0b9d0",
            ),
            "0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03",
        ),
        (
            // TEST SHA(abc): the message is SHA-512("abc")
            "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            "dc2a4459e7369633a52b1bf277839a00201009a3efbf3ecb69bea2186c26b58909351fc9ac90b3ecfdfbc7c66431e0303dca179c138ac17ad9bef1177331a704",
        ),
    ];

    fn flip(v: &[u8], bit: usize) -> Vec<u8> {
        let mut v = v.to_vec();
        v[bit / 8] ^= 1 << (bit % 8);
        v
    }

    /// Each RFC vector verifies, and one flipped bit anywhere (message,
    /// R, S, key) makes it fail.
    #[test]
    fn rfc8032_vectors_and_flipped_bits() {
        assert_eq!(RFC8032[3].1.len(), 2 * 1023);
        assert_eq!(unhex(RFC8032[4].1), crate::crypto::sha2::sha512(b"abc"));
        for (pk, msg, sig) in RFC8032 {
            let (pk, msg, sig) = (unhex(pk), unhex(msg), unhex(sig));
            assert!(verify(&pk, &msg, &sig), "{pk:02x?}");
            for b in [0, 7, 100] {
                if b < 8 * msg.len() {
                    assert!(!verify(&pk, &flip(&msg, b), &sig), "msg bit {b}");
                }
            }
            let mut longer = msg.clone();
            longer.push(0);
            assert!(!verify(&pk, &longer, &sig));
            for b in [0, 9, 130, 254, 255, 256, 300, 400, 500] {
                assert!(!verify(&pk, &msg, &flip(&sig, b)), "sig bit {b}");
            }
            for b in [0, 77, 254, 255] {
                assert!(!verify(&flip(&pk, b), &msg, &sig), "key bit {b}");
            }
        }
    }

    fn le_hex(v: &[u8]) -> String {
        v.iter().map(|b| format!("{b:02x}")).collect()
    }

    const L_BYTES: &str = "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010";

    /// S >= L is refused however close it is to L (section 5.1.7 step 1);
    /// S = L - 1 is let through to the equation.
    #[test]
    fn s_out_of_range() {
        let (pk, msg, sig) = (
            unhex(RFC8032[1].0),
            unhex(RFC8032[1].1),
            unhex(RFC8032[1].2),
        );
        let l = unhex(L_BYTES);
        assert_eq!(scalar_from(&l), L);
        let with_s = |s: &[u8]| [&sig[..32], s].concat();
        let mut l1 = l.clone();
        l1[0] += 1;
        let mut lm1 = l.clone();
        lm1[0] -= 1;
        assert!(!verify(&pk, &msg, &with_s(&l)));
        assert!(!verify(&pk, &msg, &with_s(&l1)));
        assert!(ge(&scalar_from(&l1), &L) && !ge(&scalar_from(&lm1), &L));
        assert!(!verify(&pk, &msg, &with_s(&lm1)));
        // S + L is the same scalar mod L: the malleated signature of
        // section 8.4, and S with its top three bits set.
        let s = scalar_from(&sig[32..]);
        let mut sl = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
            sl[i] = v as u8;
            carry = v >> 8;
        }
        assert!(!ge(&s, &L) && ge(&scalar_from(&sl), &L));
        assert!(!verify(&pk, &msg, &with_s(&sl)));
        let mut top = sig[32..].to_vec();
        top[31] |= 0xe0;
        assert!(!verify(&pk, &msg, &with_s(&top)));
        assert!(!verify(&pk, &msg, &with_s(&[0xff; 32])));
    }

    #[test]
    fn wrong_lengths() {
        let (pk, msg, sig) = (
            unhex(RFC8032[2].0),
            unhex(RFC8032[2].1),
            unhex(RFC8032[2].2),
        );
        assert!(verify(&pk, &msg, &sig));
        assert!(!verify(&pk[..31], &msg, &sig));
        assert!(!verify(&[&pk[..], &[0]].concat(), &msg, &sig));
        assert!(!verify(&pk, &msg, &sig[..63]));
        assert!(!verify(&pk, &msg, &[&sig[..], &[0]].concat()));
        assert!(!verify(&[], &msg, &sig));
        assert!(!verify(&pk, &msg, &[]));
        assert!(!verify(&[], &[], &[]));
    }

    /// Keys that are not points: y with no x (y = 2), y >= p (here p + 3,
    /// while y = 3 itself is a point), x = 0 with the sign bit set.
    #[test]
    fn keys_that_do_not_decode() {
        let sig = unhex(RFC8032[1].2);
        let mut y2 = [0u8; 32];
        y2[0] = 2;
        assert!(decode(&y2).is_none());
        assert!(!verify(&y2, b"r", &sig));
        let mut y3 = [0u8; 32];
        y3[0] = 3;
        assert!(decode(&y3).is_some());
        let mut p3 = [0xffu8; 32];
        p3[0] = 0xed + 3;
        p3[31] = 0x7f;
        assert_eq!(to_bytes(&from_bytes(&p3)), y3);
        assert!(decode(&p3).is_none());
        assert!(!verify(&p3, b"r", &sig));
        // Every y >= p, either sign: the 19 values p..2^255-1.
        for k in 0..19u8 {
            let mut e = [0xffu8; 32];
            e[0] = 0xed + k;
            e[31] = 0x7f;
            assert!(decode(&e).is_none(), "p + {k}");
            e[31] = 0xff;
            assert!(decode(&e).is_none(), "p + {k}, sign");
        }
        let mut one_neg = [0u8; 32];
        one_neg[0] = 1;
        assert!(decode(&one_neg).is_some());
        one_neg[31] = 0x80;
        assert!(decode(&one_neg).is_none());
    }

    /// The eight points of small order all decode but are refused as keys.
    /// Under the identity as key, R = [S]B passes the bare equation for
    /// any message: the forgery the small-order check stops.
    #[test]
    fn small_order_keys() {
        let b = decode(&BASE).unwrap();
        let mut forged = encode(&double_mul(&[1, 0, 0, 0], &b, &[0; 4], &IDENTITY)).to_vec();
        forged.extend_from_slice(&{
            let mut s = [0u8; 32];
            s[0] = 1;
            s
        });
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let a = decode(&identity).unwrap();
        let k = reduce512(&Sha512::new().finish()); // any k: [k]A = identity
        assert_eq!(
            encode(&double_mul(&[1, 0, 0, 0], &b, &k, &a)),
            forged[..32],
            "the bare equation holds"
        );
        assert!(!verify(&identity, b"anything", &forged));
        // The torsion points (their y: 1, -1, 0 (x = +-sqrt(-1)), and the
        // two y of order 8) with both signs where x != 0.
        let order8 = "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05";
        let mut encodings = vec![
            identity.to_vec(),
            to_bytes(&neg(&ONE)).to_vec(),
            vec![0; 32],
        ];
        encodings.push(to_bytes(&neg(&fe(order8))).to_vec());
        encodings.push(unhex(order8));
        let mut n = 0;
        for e in encodings {
            for sign in [0, 0x80] {
                let mut e: [u8; 32] = e.clone().try_into().unwrap();
                e[31] |= sign;
                let Some(p) = decode(&e) else { continue };
                let mut p8 = p;
                for _ in 0..3 {
                    p8 = point_add(&p8, &p8);
                }
                assert!(
                    eq(&p8.x, &ZERO) && eq(&p8.y, &p8.z),
                    "{} not of small order",
                    le_hex(&e)
                );
                assert!(!verify(&e, b"", &forged));
                n += 1;
            }
        }
        assert_eq!(n, 8, "all 8 torsion points");
    }

    /// The constants against their definitions, p's reduction, inverses
    /// and the square root of section 5.1.3.
    #[test]
    fn field() {
        let p = fe("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        assert_eq!(to_bytes(&p), [0; 32]);
        assert_eq!(to_bytes(&add(&p, &ONE)), to_bytes(&ONE));
        let top = fe("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f");
        assert_eq!(to_bytes(&top), to_bytes(&small(18)));
        let m1 = neg(&ONE);
        assert_eq!(
            le_hex(&to_bytes(&m1)),
            "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        );
        assert!(eq(&mul(&m1, &m1), &ONE));
        // d * 121666 = -121665; sqrt(-1)^2 = -1.
        assert!(eq(
            &mul(&from_bytes(&D), &small(121666)),
            &neg(&small(121665))
        ));
        assert!(eq(&sq(&from_bytes(&SQRT_M1)), &m1));
        // 1/2 (from Python: pow(2, p-2, p)).
        let half = pow(&small(2), &P_MINUS_2);
        assert_eq!(
            le_hex(&to_bytes(&half)),
            "f7ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3f"
        );
        let mut x = from_bytes(&SQRT_M1);
        for _ in 0..20 {
            x = add(&mul(&x, &x), &small(7));
            assert!(eq(&mul(&x, &pow(&x, &P_MINUS_2)), &ONE));
            // Large limbs stay correct: a - b + b = a from a sum of four.
            let big = add(&add(&x, &x), &add(&x, &x));
            assert!(eq(&add(&sub(&x, &big), &big), &x));
            assert!(eq(&mul(&big, &big), &mul(&sq(&x), &small(16))));
        }
        // The base point: y = 4/5, x even, and on the curve.
        let b = decode(&BASE).unwrap();
        assert!(eq(&mul(&b.y, &small(5)), &small(4)));
        assert_eq!(to_bytes(&b.x)[0] & 1, 0);
        let (x2, y2) = (sq(&b.x), sq(&b.y));
        let rhs = add(&ONE, &mul(&from_bytes(&D), &mul(&x2, &y2)));
        assert!(eq(&sub(&y2, &x2), &rhs));
    }

    /// Reduction mod L against Python's big integers, and the order of B.
    #[test]
    fn scalars() {
        let all = reduce512(&[0xff; 64]);
        let w = |s: Scalar| le_hex(&s.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>());
        // (2**512 - 1) % L, little-endian
        assert_eq!(
            w(all),
            "000f9c44e31106a447938568a71b0ed065bef517d273ecce3d9a307c1b419903"
        );
        let mut l64 = [0u8; 64];
        l64[..32].copy_from_slice(&unhex(L_BYTES));
        assert_eq!(reduce512(&l64), [0; 4]);
        l64[0] -= 1;
        assert_eq!(reduce512(&l64), [L[0] - 1, L[1], L[2], L[3]]);
        assert_eq!(reduce512(&[0; 64]), [0; 4]);
        // [L]B is the identity, [L-1]B = -B.
        let b = decode(&BASE).unwrap();
        let lb = double_mul(&L, &b, &[0; 4], &b);
        assert!(eq(&lb.x, &ZERO) && eq(&lb.y, &lb.z));
        let lm1 = double_mul(&[L[0] - 1, L[1], L[2], L[3]], &b, &[0; 4], &b);
        let mut minus_b = BASE;
        minus_b[31] |= 0x80;
        assert_eq!(encode(&lm1), minus_b);
        // [2]B + [3]B = [5]B, through both scalars at once.
        let b5 = double_mul(&[5, 0, 0, 0], &b, &[0; 4], &b);
        assert_eq!(
            encode(&double_mul(&[2, 0, 0, 0], &b, &[3, 0, 0, 0], &b)),
            encode(&b5)
        );
    }

    /// k a + r mod L, for signing in the tests: the 512-bit k a + r
    /// through [`reduce512`].
    fn muladd(k: &Scalar, a: &Scalar, r: &Scalar) -> Scalar {
        let mut w = [0u128; 9];
        for (i, &x) in k.iter().enumerate() {
            for (j, &y) in a.iter().enumerate() {
                let p = u128::from(x) * u128::from(y);
                w[i + j] += p & u128::from(u64::MAX);
                w[i + j + 1] += p >> 64;
            }
        }
        for (i, &x) in r.iter().enumerate() {
            w[i] += u128::from(x);
        }
        let mut bytes = [0u8; 64];
        for i in 0..8 {
            w[i + 1] += w[i] >> 64;
            bytes[8 * i..8 * i + 8].copy_from_slice(&(w[i] as u64).to_le_bytes());
        }
        reduce512(&bytes)
    }

    fn k_of(r: &[u8], pk: &[u8], msg: &[u8]) -> Scalar {
        reduce512(&crate::crypto::sha2::sha512(&[r, pk, msg].concat()))
    }

    /// Signatures made here (section 5.1.6 with a chosen nonce r), for the
    /// two cases Wycheproof does not cover: a torsion component in R
    /// (accepted by the cofactored equation, refused by the cofactorless
    /// one used here) and an R that is a non-canonical encoding (y >= p)
    /// of the right point (accepted by a verifier that decodes R leniently
    /// and compares points, refused by the byte comparison).
    #[test]
    fn self_made_signatures() {
        let b = decode(&BASE).unwrap();
        let mul_b = |s: &Scalar| double_mul(s, &b, &[0; 4], &b);
        let a = reduce512(&crate::crypto::sha2::sha512(b"tinymx test key"));
        let pk = encode(&mul_b(&a));
        let msg = b"DKIM-Signature: v=1";
        let r = reduce512(&crate::crypto::sha2::sha512(b"nonce"));
        let sign = |rb: &[u8], r: &Scalar| {
            let s = muladd(&k_of(rb, &pk, msg), &a, r);
            [
                rb,
                &s.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<_>>(),
            ]
            .concat()
        };
        let rb = encode(&mul_b(&r));
        assert!(verify(&pk, msg, &sign(&rb, &r)));
        assert!(!verify(&pk, b"DKIM-Signature: v=2", &sign(&rb, &r)));

        // R + T, T of order 8: [S]B - [k]A = R, not R + T. The cofactored
        // equation would hold: [8]([S]B - [k]A - (R + T)) = identity.
        let t = decode(
            &unhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")
                .try_into()
                .unwrap(),
        )
        .unwrap();
        let rt = point_add(&mul_b(&r), &t);
        let sig = sign(&encode(&rt), &r);
        assert!(!verify(&pk, msg, &sig));
        let k = k_of(&sig[..32], &pk, msg);
        let minus_a = {
            let a = decode(&pk).unwrap();
            Point {
                x: neg(&a.x),
                t: neg(&a.t),
                ..a
            }
        };
        let lhs = double_mul(&scalar_from(&sig[32..]), &b, &k, &minus_a);
        let mut diff = point_add(
            &lhs,
            &Point {
                x: neg(&rt.x),
                t: neg(&rt.t),
                ..rt
            },
        );
        assert!(!eq(&diff.x, &ZERO), "cofactorless: differs");
        for _ in 0..3 {
            diff = point_add(&diff, &diff);
        }
        assert!(
            eq(&diff.x, &ZERO) && eq(&diff.y, &diff.z),
            "cofactored: would hold"
        );

        // r = 0: R is the identity. Encoded canonically (y = 1) it
        // verifies; encoded as y = p + 1 it is refused.
        let mut id = [0u8; 32];
        id[0] = 1;
        assert!(verify(&pk, msg, &sign(&id, &[0; 4])));
        let mut p1 = [0xffu8; 32];
        p1[0] = 0xee;
        p1[31] = 0x7f;
        assert_eq!(to_bytes(&from_bytes(&p1)), id);
        assert!(!verify(&pk, msg, &sign(&p1, &[0; 4])));
    }

    /// Timing, for the release build: `cargo test --release --lib
    /// ed25519::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn timing() {
        let (pk, msg, sig) = (
            unhex(RFC8032[3].0),
            unhex(RFC8032[3].1),
            unhex(RFC8032[3].2),
        );
        let n = 2000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(verify(std::hint::black_box(&pk), &msg, &sig));
        }
        println!("ed25519 verify: {:?} each", t.elapsed() / n);
    }
}
