#!/usr/bin/env python3
"""make test-ipk: the OpenWrt package and the procd init script.

For each OPENWRT_ARCH=BINARY of $IPK_BINS (the Makefile's IPK_ARCHES, the
binaries of `make cross`) builds the .ipk with contrib/openwrt/build-ipk.sh
twice (same bytes both times) and checks, exactly:
  - the outer archive as OpenWrt's opkg reads it: a gzip'd tar of
    ./debian-binary ("2.0"), ./data.tar.gz, ./control.tar.gz;
  - the members, owners, modes and mtimes of both inner archives, the
    control file field by field, conffiles, postinst and prerm;
  - the files after unpacking with tar: modes, and contents equal to the
    binary and contrib/openwrt/tinymx.init / tinymx.config;
  - the packaged binary's ELF class, byte order and machine (a missing
    cross binary is replaced by $TINYMX_BIN and that check is skipped, so
    this runs without a cross build; `make test` runs it after test-cross);
  - postinst and prerm under IPKG_INSTROOT: silent without the root's
    /lib/functions.sh, else they source the root's (never the host's) and
    call default_postinst / default_prerm as OpenWrt's generated ones do;
    IPKG_NO_SCRIPT=1 skips postinst.
Then `sh -n` (dash and busybox ash) on every shell script, and the procd
script's start_service against tests/openwrt/shim.sh: the recorded command
line for the UCI defaults must be the one the README states, and changed
UCI values change it as expected.
"""

import gzip
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OPENWRT = os.path.join(ROOT, "contrib", "openwrt")
BUILD = os.path.join(OPENWRT, "build-ipk.sh")
SHIM = os.path.join(ROOT, "tests", "openwrt", "shim.sh")
EPOCH = 1700000000
VERSION = os.environ.get("IPK_VERSION", "0.1.0-1")

# OpenWrt architecture name prefix → (ELF class, byte order, e_machine).
ELF = {
    "aarch64_": (2, 1, 183),  # ELFCLASS64, little-endian, EM_AARCH64
    "arm_": (1, 1, 40),  # ELFCLASS32, little-endian, EM_ARM
    "mipsel_": (1, 1, 8),  # ELFCLASS32, little-endian, EM_MIPS
}

failures = []


def check(what, got, want):
    if got != want:
        failures.append(what)
        print(f"FAIL {what}:\n  got:  {got!r}\n  want: {want!r}")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def members(blob):
    """(name, type, mode, uid, gid, uname, gname, mtime) of a gzip'd tar."""
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as t:
        return [
            (m.name, "d" if m.isdir() else "f" if m.isfile() else "?", oct(m.mode),
             m.uid, m.gid, m.uname, m.gname, m.mtime)
            for m in t.getmembers()
        ]


def member(blob, name):
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as t:
        return t.extractfile(name).read()


def build(binary, arch, out):
    env = dict(os.environ, SOURCE_DATE_EPOCH=str(EPOCH))
    r = subprocess.run(["sh", BUILD, binary, arch, VERSION, out], env=env,
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"build-ipk.sh {arch} failed: {r.stderr}")
    path = r.stdout.strip()
    check(f"{arch}: package path", path, os.path.join(out, f"tinymx_{VERSION}_{arch}.ipk"))
    return path


def check_package(arch, binary, real, tmp):
    ipk = read(build(binary, arch, os.path.join(tmp, "a")))
    again = read(build(binary, arch, os.path.join(tmp, "b")))
    check(f"{arch}: two builds give the same bytes", ipk == again, True)
    check(f"{arch}: outer archive is gzip", ipk[:2], b"\x1f\x8b")

    # Numeric owners only (no names), as OpenWrt's ipkg-build writes them;
    # Python's tarfile reads the member "./" as ".".
    f = lambda n, mode, ty="f": (n, ty, mode, 0, 0, "", "", EPOCH)
    outer = members(ipk)
    check(f"{arch}: outer members", outer, [
        f("./debian-binary", "0o644"),
        f("./data.tar.gz", "0o644"),
        f("./control.tar.gz", "0o644"),
    ])
    check(f"{arch}: debian-binary", member(ipk, "./debian-binary"), b"2.0\n")
    data = member(ipk, "./data.tar.gz")
    control = member(ipk, "./control.tar.gz")
    check(f"{arch}: data.tar.gz members", members(data), [
        f(".", "0o755", "d"),
        f("./etc", "0o755", "d"),
        f("./etc/config", "0o755", "d"),
        f("./etc/config/tinymx", "0o600"),
        f("./etc/init.d", "0o755", "d"),
        f("./etc/init.d/tinymx", "0o755"),
        f("./usr", "0o755", "d"),
        f("./usr/sbin", "0o755", "d"),
        f("./usr/sbin/tinymx", "0o755"),
    ])
    check(f"{arch}: control.tar.gz members", members(control), [
        f(".", "0o755", "d"),
        f("./conffiles", "0o644"),
        f("./control", "0o644"),
        f("./postinst", "0o755"),
        f("./prerm", "0o755"),
    ])

    binary_bytes = read(binary)
    init = read(os.path.join(OPENWRT, "tinymx.init"))
    uci = read(os.path.join(OPENWRT, "tinymx.config"))
    size = len(binary_bytes) + len(init) + len(uci)
    check(f"{arch}: control", member(control, "./control").decode(), (
        "Package: tinymx\n"
        f"Version: {VERSION}\n"
        "Section: mail\n"
        "Require-User: mail:mail\n"
        f"Architecture: {arch}\n"
        f"Installed-Size: {size}\n"
        "Description:  Receive-only SMTP server: accepts mail for its domains and\n"
        " delivers it to a Maildir. One static binary, no dependencies.\n"
    ))
    check(f"{arch}: conffiles", member(control, "./conffiles"), b"/etc/config/tinymx\n")
    check(f"{arch}: postinst", member(control, "./postinst").decode(), (
        "#!/bin/sh\n"
        '[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0\n'
        "[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n"
        ". ${IPKG_INSTROOT}/lib/functions.sh\n"
        "default_postinst $0 $@\n"
    ))
    check(f"{arch}: prerm", member(control, "./prerm").decode(), (
        "#!/bin/sh\n"
        "[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0\n"
        ". ${IPKG_INSTROOT}/lib/functions.sh\n"
        "default_prerm $0 $@\n"
    ))

    # Unpacked as opkg does (tar keeps the modes): files, modes, contents.
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    with open(os.path.join(tmp, "data.tar.gz"), "wb") as out:
        out.write(data)
    subprocess.run(["tar", "-xpzf", os.path.join(tmp, "data.tar.gz"), "-C", root], check=True)
    unpacked = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for n in sorted(dirs + files):
            p = os.path.join(d, n)
            unpacked.append((os.path.relpath(p, root), oct(os.lstat(p).st_mode)))
    check(f"{arch}: unpacked tree", sorted(unpacked), [
        ("etc", "0o40755"),
        ("etc/config", "0o40755"),
        ("etc/config/tinymx", "0o100600"),
        ("etc/init.d", "0o40755"),
        ("etc/init.d/tinymx", "0o100755"),
        ("usr", "0o40755"),
        ("usr/sbin", "0o40755"),
        ("usr/sbin/tinymx", "0o100755"),
    ])
    check(f"{arch}: /usr/sbin/tinymx is the binary",
          read(os.path.join(root, "usr/sbin/tinymx")) == binary_bytes, True)
    check(f"{arch}: /etc/init.d/tinymx", read(os.path.join(root, "etc/init.d/tinymx")), init)
    check(f"{arch}: /etc/config/tinymx", read(os.path.join(root, "etc/config/tinymx")), uci)

    if real:
        head = binary_bytes[:20]
        want = next(v for k, v in ELF.items() if arch.startswith(k))
        check(f"{arch}: ELF class, byte order, machine",
              (head[:4], head[4], head[5], int.from_bytes(head[18:20], "little")),
              (b"\x7fELF",) + want)
    return member(control, "./postinst"), member(control, "./prerm")


def check_scripts(postinst, prerm, tmp):
    """postinst/prerm as opkg runs them: from the root's info directory."""
    root = os.path.join(tmp, "instroot")
    info = os.path.join(root, "usr/lib/opkg/info")
    os.makedirs(info)
    for name, text in (("postinst", postinst), ("prerm", prerm)):
        p = os.path.join(info, f"tinymx.{name}")
        with open(p, "wb") as f:
            f.write(text)
        os.chmod(p, 0o755)

    def run(name, **env):
        e = {"PATH": os.environ["PATH"], **env}
        r = subprocess.run([os.path.join(info, f"tinymx.{name}"), "configure"],
                           env=e, capture_output=True, text=True, timeout=20)
        return r.returncode, r.stdout + r.stderr

    # No functions.sh in the root (e.g. an image build's staging before
    # base-files): nothing happens, not even with the host's.
    check("postinst without the root's functions.sh", run("postinst", IPKG_INSTROOT=root), (0, ""))
    check("prerm without the root's functions.sh", run("prerm", IPKG_INSTROOT=root), (0, ""))
    os.makedirs(os.path.join(root, "lib"))
    with open(os.path.join(root, "lib/functions.sh"), "w") as f:
        f.write('default_postinst() { echo "root functions.sh: default_postinst $* (IPKG_INSTROOT=$IPKG_INSTROOT)"; }\n'
                'default_prerm() { echo "root functions.sh: default_prerm $* (IPKG_INSTROOT=$IPKG_INSTROOT)"; }\n')
    check("postinst in an image build", run("postinst", IPKG_INSTROOT=root),
          (0, f"root functions.sh: default_postinst {info}/tinymx.postinst configure (IPKG_INSTROOT={root})\n"))
    check("prerm in an image build", run("prerm", IPKG_INSTROOT=root),
          (0, f"root functions.sh: default_prerm {info}/tinymx.prerm configure (IPKG_INSTROOT={root})\n"))
    check("postinst with IPKG_NO_SCRIPT=1",
          run("postinst", IPKG_INSTROOT=root, IPKG_NO_SCRIPT="1"), (0, ""))


def shells():
    out = [["sh"]]
    bb = shutil.which("busybox")
    if bb:
        out.append([bb, "sh"])
    else:
        print("note: no busybox; the scripts are checked with sh only")
    return out


def syntax(postinst, prerm, tmp):
    scripts = [os.path.join(OPENWRT, "tinymx.init"), BUILD, SHIM]
    for name, text in (("postinst", postinst), ("prerm", prerm)):
        p = os.path.join(tmp, name)
        with open(p, "wb") as f:
            f.write(text)
        scripts.append(p)
    for sh in shells():
        for s in scripts:
            r = subprocess.run(sh + ["-n", s], capture_output=True, text=True)
            check(f"{' '.join(sh)} -n {os.path.basename(s)}", (r.returncode, r.stderr), (0, ""))
    return len(scripts)


def start_service(uci_text, tmp, sh):
    d = tempfile.mkdtemp(dir=tmp)
    with open(os.path.join(d, "tinymx"), "w") as f:
        f.write(uci_text)
    script = (f". '{SHIM}'\n. '{os.path.join(OPENWRT, 'tinymx.init')}'\n"
              "start_service\nservice_triggers\n")
    r = subprocess.run(sh + ["-c", script], env={"PATH": os.environ["PATH"], "UCI_CONFIG_DIR": d},
                       capture_output=True, text=True, timeout=20)
    check(f"{' '.join(sh)}: start_service stderr", r.stderr, "")
    return r.stdout


def readme_command():
    """The command line the README gives for the UCI defaults."""
    text = read(os.path.join(ROOT, "README.md")).decode()
    m = re.search(r"procd starts, for the UCI defaults:\n\n```\n(.*)\n```", text)
    if not m:
        sys.exit("README.md: no 'procd starts, for the UCI defaults:' block")
    return m.group(1)


def instance(command, respawn="3600 5 5"):
    return ("procd_open_instance\n"
            f"command: {command}\n"
            f"respawn: {respawn}\n"
            "stderr: 1\n"
            "procd_close_instance\n"
            "procd_add_reload_trigger tinymx\n")


def check_procd(tmp):
    default = read(os.path.join(OPENWRT, "tinymx.config")).decode()
    want = readme_command()
    changed = (
        "config tinymx 'main'\n"
        "\tlist listen '0.0.0.0:25'\n"
        "\tlist listen '[::]:25'\n"
        "\toption spool '/mnt/sda1/mail'\n"
        "\toption user 'tinymx'\n"
        "\tlist domain 'example.org'\n"
        "\tlist domain 'example.net'\n"
        "\tlist mailbox 'alice'\n"
        "\toption catch_all 'misc'\n"
        "\toption max_conn '8'\n"
        "\tlist auth_skip '192.168.1.0/24'\n"
        "\toption spf_reject 'yes'\n"
    )
    bare = "config tinymx 'main'\n"  # every option missing: the script's own defaults
    for sh in shells():
        check(f"{' '.join(sh)}: start_service with the UCI defaults = README",
              start_service(default, tmp, sh), instance(want))
        check(f"{' '.join(sh)}: start_service with changed UCI values", start_service(changed, tmp, sh),
              instance("/usr/sbin/tinymx -d /mnt/sda1/mail -u tinymx --syslog -l 0.0.0.0:25 -l [::]:25 "
                       "-D example.org -D example.net -m alice --auth-skip 192.168.1.0/24 --spf-reject "
                       "-c misc --max-conn 8"))
        check(f"{' '.join(sh)}: start_service with an empty section", start_service(bare, tmp, sh),
              instance("/usr/sbin/tinymx -d /var/spool/tinymx -u mail --syslog"))
    return want


def main():
    fallback = os.environ.get("TINYMX_BIN") or sys.exit("TINYMX_BIN is not set (make test-ipk sets it)")
    bins = os.environ.get("IPK_BINS", "").split()
    if not bins:
        sys.exit("IPK_BINS is not set (make test-ipk sets it)")
    tmp = tempfile.mkdtemp(prefix="tinymx-test-ipk-")
    try:
        scripts = None
        for entry in bins:
            arch, binary = entry.split("=", 1)
            real = os.path.isfile(binary)
            if not real:
                print(f"{arch}: no {binary} (make cross); packaging {fallback} in its place, ELF check skipped")
                binary = fallback
            d = tempfile.mkdtemp(dir=tmp)
            scripts = check_package(arch, binary, real, d)
            print(f"{arch}: package checked ({'real' if real else 'stand-in'} binary, "
                  f"{os.path.getsize(os.path.join(d, 'a', f'tinymx_{VERSION}_{arch}.ipk'))} bytes)")
        check_scripts(*scripts, tmp)
        n = syntax(*scripts, tmp)
        print(f"sh -n: {n} scripts with {len(shells())} shell(s)")
        cmd = check_procd(tmp)
        print(f"procd start_service (defaults, changed, empty section) passed; defaults: {cmd}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        sys.exit(f"test-ipk: {len(failures)} failed: {', '.join(failures)}")
    print(f"test-ipk: {len(bins)} packages and the procd script passed")


if __name__ == "__main__":
    main()
