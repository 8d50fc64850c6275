//! The manual page, tinymx.8: it is what `tinymx::man::page()` generates
//! (`make man`), its options read word for word as the binary's `--help`
//! (and `show --help`, `extract --help`), its ENVIRONMENT names the
//! README's hook variables, and `mandoc -Tlint` and `man` accept it
//! (Debian's mandoc and man-db, installed by `make test-deps`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn source(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn page() -> String {
    std::fs::read_to_string(source("contrib/tinymx.8")).unwrap()
}

/// The roff of a text line as plain text: font changes dropped, the
/// escapes the generator writes undone.
fn unroff(line: &str) -> String {
    let mut s = line.to_string();
    for f in ["\\fB", "\\fI", "\\fR", "\\fP", "\\&"] {
        s = s.replace(f, "");
    }
    s.replace("\\-", "-").replace("\\e", "\\")
}

/// Words separated by single spaces.
fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The lines of the page's section `.SH NAME` (up to the next `.SH`).
fn section<'a>(page: &'a str, name: &str) -> Vec<&'a str> {
    page.lines()
        .skip_while(|l| *l != format!(".SH {name}"))
        .skip(1)
        .take_while(|l| !l.starts_with(".SH "))
        .collect()
}

/// The `.TP` entries of some lines, each as plain words.
fn entries(lines: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for l in lines {
        if *l == ".TP" {
            out.extend(current.replace(String::new()));
        } else if l.starts_with('.') {
            out.extend(current.take());
        } else if let Some(c) = current.as_mut() {
            c.push(' ');
            c.push_str(&unroff(l));
        }
    }
    out.extend(current);
    out.iter().map(|e| words(e)).collect()
}

fn help(args: &[&str]) -> String {
    let out = command().args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_committed_page_is_the_generated_one() {
    assert!(
        page() == tinymx::man::page(),
        "tinymx.8 is not what src/man.rs makes of the option table: run `make man`"
    );
}

#[test]
fn its_options_are_the_binarys_help_word_for_word() {
    let help = help(&["--help"]);
    let options = &help[help.find("\nOptions:\n").unwrap() + 10..];
    let options = &options[..options.find("\n\n").unwrap()];
    // One block per option: a line starting "  -X, --" or "      --",
    // then its continuation lines (indented further).
    let mut want: Vec<String> = Vec::new();
    for line in options.lines() {
        if line.starts_with("  -") || line.starts_with("      --") {
            want.push(String::new());
        }
        let block = want.last_mut().unwrap();
        block.push(' ');
        block.push_str(line);
    }
    let want: Vec<String> = want.iter().map(|b| words(b)).collect();
    let page = page();
    let lines = section(&page, "OPTIONS");
    let got = entries(&lines);
    assert_eq!(got.len(), tinymx::cli::OPTIONS.len());
    for (got, want) in got.iter().zip(&want) {
        assert_eq!(got, want);
    }
    assert_eq!(got.len(), want.len());
}

#[test]
fn its_commands_are_show_and_extract_help_word_for_word() {
    let page = page();
    let lines = section(&page, "COMMANDS");
    for (cmd, heading) in [
        (
            "show",
            ".SS tinymx show [\\-\\-header NAME]... [\\-\\-body] [\\-\\-json] FILE",
        ),
        ("extract", ".SS tinymx extract FILE DIR"),
    ] {
        let help = help(&[cmd, "--help"]);
        let (usage, rest) = help.split_once('\n').unwrap();
        let at = lines.iter().position(|l| *l == heading).expect(heading);
        let body: Vec<String> = lines[at + 1..]
            .iter()
            .take_while(|l| !l.starts_with(".SS"))
            .filter(|l| !l.starts_with('.'))
            .map(|l| unroff(l))
            .collect();
        assert_eq!(words(&body.join(" ")), words(rest), "{cmd}");
        assert_eq!(format!("Usage: {}", unroff(&heading[4..])), usage, "{cmd}");
    }
}

#[test]
fn its_environment_is_the_readmes_hook_variables() {
    let readme = std::fs::read_to_string(source("README.md")).unwrap();
    let table = &readme[readme.find("### `--exec PROGRAM`").unwrap()..];
    let table = &table[table.find("\n\n|").unwrap() + 2..];
    let want: Vec<&str> = table
        .lines()
        .take_while(|l| l.starts_with('|'))
        .filter_map(|l| l.strip_prefix("| `TINYMX_"))
        .map(|l| &l[..l.find('`').unwrap()])
        .collect();
    assert_eq!(want.len(), 22, "the README's table");
    let page = page();
    let got: Vec<&str> = section(&page, "ENVIRONMENT")
        .iter()
        .filter_map(|l| l.strip_prefix(".B TINYMX_"))
        .collect();
    assert_eq!(got, want);
}

fn tool(name: &str) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{name} is not installed: `make test-deps` installs it"
    );
    Command::new(name)
}

#[test]
fn mandoc_lint_reports_nothing() {
    let out = tool("mandoc")
        .args(["-Tlint", "-Wall"])
        .arg(source("contrib/tinymx.8"))
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(text, "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn man_renders_it_without_a_warning() {
    let out = tool("man")
        .args(["--warnings", "-l"])
        .arg(source("contrib/tinymx.8"))
        .env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .env("MANPAGER", "cat")
        .env_remove("MAN_KEEP_FORMATTING")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let headings: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_uppercase()))
        .collect();
    let version = env!("CARGO_PKG_VERSION");
    let footer = format!("tinymx {version}");
    assert_eq!(
        headings[1..],
        [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "COMMANDS",
            "FILES",
            "SIGNALS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "EXAMPLES",
            "SEE ALSO",
        ]
    );
    assert!(words(headings[0]) == "TINYMX(8) System Manager's Manual TINYMX(8)");
    assert_eq!(
        words(text.lines().last().unwrap()),
        format!("{footer} {} TINYMX(8)", tinymx::man::DATE)
    );
    // Options are ASCII hyphens, to be copied into a shell.
    assert!(text.contains("\n       -l, --listen ADDR:PORT\n"), "{text}");
}
