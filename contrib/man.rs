//! `make man`: prints the manual page, tinymx(8), built by `tinymx::man`
//! from the option table that `--help` prints. Not part of the binary.

fn main() {
    print!("{}", tinymx::man::page());
}
