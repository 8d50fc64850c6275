//! The CJK indexes: pointer → code point, stored as segments of consecutive
//! pointers (tests/charset/gen_tables.py writes them into `tables`).

/// How a segment gives its code points.
#[derive(Clone, Copy)]
enum Kind {
    /// `Index::values[arg..]`, 0 for no code point.
    Literal,
    /// arg, arg + 1, ...
    Run,
    /// The arg-th, (arg + 1)-th, ... code point of the set's range that is
    /// not in the set.
    Out,
    /// The same for the code points in the set.
    In,
}

/// Pointers `start..start + len`.
pub(super) struct Seg {
    start: u16,
    len: u16,
    arg: u16,
    kind: Kind,
}

impl Seg {
    const fn new(kind: Kind, start: u16, len: u16, arg: u16) -> Seg {
        Seg {
            start,
            len,
            arg,
            kind,
        }
    }
    /// The code points at `Index::values[offset..]`.
    pub(super) const fn lit(start: u16, len: u16, offset: u16) -> Seg {
        Seg::new(Kind::Literal, start, len, offset)
    }
    /// first, first + 1, ...
    pub(super) const fn run(start: u16, len: u16, first: u16) -> Seg {
        Seg::new(Kind::Run, start, len, first)
    }
    /// From the rank-th code point outside the index's set.
    pub(super) const fn out(start: u16, len: u16, rank: u16) -> Seg {
        Seg::new(Kind::Out, start, len, rank)
    }
    /// From the rank-th code point inside the index's set.
    pub(super) const fn inn(start: u16, len: u16, rank: u16) -> Seg {
        Seg::new(Kind::In, start, len, rank)
    }
}

/// A set of code points within `first..first + len`, as a bitmap.
pub(super) struct Set {
    pub(super) first: u32,
    pub(super) len: u32,
    /// Bit i of word w: is first + 64 × w + i in the set.
    pub(super) bits: &'static [u64],
    /// Members in the words before each word.
    pub(super) before: &'static [u16],
}

impl Set {
    /// The k-th code point (from 0, in order) of the range that is in the
    /// set (`member`) or not in it.
    fn select(&self, k: usize, member: bool) -> Option<u32> {
        let count = |w: usize| {
            let ones = self.before[w] as usize;
            if member { ones } else { 64 * w - ones }
        };
        // The last word with at most k such code points before it.
        let (mut lo, mut hi) = (0, self.bits.len());
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if count(mid) <= k {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let mut word = if member {
            self.bits[lo]
        } else {
            !self.bits[lo]
        };
        for _ in 0..k.checked_sub(count(lo))? {
            word &= word.wrapping_sub(1);
        }
        let i = 64 * lo as u32 + word.trailing_zeros();
        (word != 0 && i < self.len).then_some(self.first + i)
    }
}

/// One index: segments sorted by start.
pub(super) struct Index {
    pub(super) segs: &'static [Seg],
    pub(super) values: &'static [u16],
    pub(super) set: Option<&'static Set>,
    /// Bit p: pointer p's code point is in plane 2 (U+20000 + the 16 bits
    /// stored). Empty for indexes without any.
    pub(super) plane2: &'static [u32],
}

impl Index {
    /// The code point of `pointer`, if it has one.
    pub(super) fn get(&self, pointer: usize) -> Option<char> {
        let at = self.segs.partition_point(|s| s.start as usize <= pointer);
        let seg = &self.segs[at.checked_sub(1)?];
        let i = pointer - seg.start as usize;
        if i >= seg.len as usize {
            return None;
        }
        let arg = seg.arg as usize;
        let low = match seg.kind {
            Kind::Literal => match *self.values.get(arg + i)? {
                0 => return None,
                v => v as u32,
            },
            Kind::Run => (arg + i) as u32,
            Kind::Out => self.set?.select(arg + i, false)?,
            Kind::In => self.set?.select(arg + i, true)?,
        };
        let wide = self
            .plane2
            .get(pointer / 32)
            .is_some_and(|w| w >> (pointer % 32) & 1 == 1);
        char::from_u32(if wide { 0x20000 + low } else { low })
    }
}
