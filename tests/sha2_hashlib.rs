//! tinymx's SHA-256 and SHA-512 against Python's `hashlib` (OpenSSL's
//! implementation, a real peer): 10,000 inputs of random lengths, each
//! fed to the streaming API in pieces cut at random points, as the DATA
//! stream cuts a message body.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use tinymx::crypto::sha2::{Sha256, Sha512};

const INPUTS: usize = 10_000;

/// xorshift64*: the same inputs on every run and every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const PEER: &str = r#"
import hashlib, sys
inp, out = sys.stdin.buffer, sys.stdout
while True:
    head = inp.read(4)
    if not head:
        break
    data = inp.read(int.from_bytes(head, "big"))
    out.write(hashlib.sha256(data).hexdigest() + " " + hashlib.sha512(data).hexdigest() + "\n")
out.flush()
"#;

#[test]
fn ten_thousand_random_inputs_in_random_pieces_agree_with_hashlib() {
    let mut rng = Rng(0x7469_6e79_6d78_0001);
    let mut inputs = Vec::with_capacity(INPUTS);
    for i in 0..INPUTS {
        // Mostly short (around the 64- and 128-byte block edges), some
        // up to 64 KiB.
        let len = if i % 50 == 0 {
            rng.below(65_536)
        } else {
            rng.below(600)
        };
        let data: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        inputs.push(data);
    }

    let mut peer = Command::new("python3")
        .args(["-c", PEER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 (make test-deps installs it)");
    let mut stdin = peer.stdin.take().unwrap();
    let feed = {
        let inputs = inputs.clone();
        std::thread::spawn(move || {
            for d in &inputs {
                stdin.write_all(&(d.len() as u32).to_be_bytes()).unwrap();
                stdin.write_all(d).unwrap();
            }
        })
    };
    let answers: Vec<String> = BufReader::new(peer.stdout.take().unwrap())
        .lines()
        .map(|l| l.unwrap())
        .collect();
    feed.join().unwrap();
    assert!(peer.wait().unwrap().success());
    assert_eq!(answers.len(), INPUTS, "hashlib answered every input");

    let mut pieces_total = 0;
    for (i, (data, answer)) in inputs.iter().zip(&answers).enumerate() {
        let (mut s256, mut s512) = (Sha256::new(), Sha512::new());
        let mut rest = &data[..];
        while !rest.is_empty() {
            let n = 1 + rng.below(rest.len().min(300) as u64);
            let (piece, tail) = rest.split_at(n);
            s256.update(piece);
            s512.update(piece);
            // Empty pieces happen too (a body slice of zero bytes).
            if rng.below(8) == 0 {
                s256.update(&[]);
                s512.update(&[]);
            }
            rest = tail;
            pieces_total += 1;
        }
        let ours = format!("{} {}", hex(&s256.finish()), hex(&s512.finish()));
        assert_eq!(&ours, answer, "input {i}, {} bytes", data.len());
    }
    let bytes: usize = inputs.iter().map(Vec::len).sum();
    println!("sha2 vs hashlib: {INPUTS} inputs, {bytes} bytes, {pieces_total} pieces, all agree");
}
