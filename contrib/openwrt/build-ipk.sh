#!/bin/sh
# Builds an OpenWrt package (.ipk) of tinymx from a prebuilt static binary:
#   contrib/openwrt/build-ipk.sh BINARY OPENWRT_ARCH VERSION OUTDIR
# writes OUTDIR/tinymx_VERSION_OPENWRT_ARCH.ipk (`make ipk` runs it for
# each cross build; README, "OpenWrt package").
#
# The layout is the one OpenWrt's own scripts/ipkg-build writes and its
# opkg (opkg-lede, libbb/unarchive.c: deb_extract) reads: a gzip'd tar
# holding ./debian-binary ("2.0"), ./data.tar.gz and ./control.tar.gz.
# (The older `ar` outer archive is read by Yocto's opkg, not by OpenWrt's.)
# Owner root:root, every mtime SOURCE_DATE_EPOCH (default: the last
# commit's time), names sorted, gzip without a name or time: the same
# inputs give the same bytes.
#
# postinst and prerm are the ones OpenWrt generates for every package:
# they source ${IPKG_INSTROOT}/lib/functions.sh and call default_postinst
# / default_prerm, which create the user named by Require-User, and
# enable (and, on a running system, start or stop) /etc/init.d/tinymx;
# in an image build (IPKG_INSTROOT set) they only enable it in that root.
set -eu

[ $# -eq 4 ] || { echo "usage: $0 BINARY OPENWRT_ARCH VERSION OUTDIR" >&2; exit 2; }
bin=$1 arch=$2 version=$3 out=$4
here=$(cd "$(dirname "$0")" && pwd)
: "${SOURCE_DATE_EPOCH:=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)}"

[ -f "$bin" ] || { echo "$0: no binary $bin (make cross builds it)" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# data.tar.gz: the files as installed.
d=$tmp/data
mkdir -p "$d/usr/sbin" "$d/etc/init.d" "$d/etc/config"
cp "$bin" "$d/usr/sbin/tinymx"
cp "$here/tinymx.init" "$d/etc/init.d/tinymx"
cp "$here/tinymx.config" "$d/etc/config/tinymx"
find "$d" -type d -exec chmod 0755 {} +
chmod 0755 "$d/usr/sbin/tinymx" "$d/etc/init.d/tinymx"
chmod 0600 "$d/etc/config/tinymx"	# OpenWrt's INSTALL_CONF mode

# control.tar.gz: control, conffiles, the maintainer scripts.
c=$tmp/control
mkdir -p "$c"
size=$(find "$d" -type f -exec cat {} + | wc -c)
cat >"$c/control" <<CONTROL
Package: tinymx
Version: $version
Section: mail
Require-User: mail:mail
Architecture: $arch
Installed-Size: $size
Description:  Receive-only SMTP server: accepts mail for its domains and
 delivers it to a Maildir. One static binary, no dependencies.
CONTROL
echo /etc/config/tinymx >"$c/conffiles"
cat >"$c/postinst" <<'SCRIPT'
#!/bin/sh
[ "${IPKG_NO_SCRIPT}" = "1" ] && exit 0
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_postinst $0 $@
SCRIPT
cat >"$c/prerm" <<'SCRIPT'
#!/bin/sh
[ -s ${IPKG_INSTROOT}/lib/functions.sh ] || exit 0
. ${IPKG_INSTROOT}/lib/functions.sh
default_prerm $0 $@
SCRIPT
chmod 0755 "$c" "$c/postinst" "$c/prerm"
chmod 0644 "$c/control" "$c/conffiles"

pack() { # DIR → gzip'd tar on stdout
	tar --format=gnu --numeric-owner --owner=0 --group=0 --sort=name \
		--mtime="@$SOURCE_DATE_EPOCH" -C "$1" -cf - . | gzip -n -9
}
o=$tmp/outer
mkdir "$o"
echo 2.0 >"$o/debian-binary"
pack "$d" >"$o/data.tar.gz"
pack "$c" >"$o/control.tar.gz"
chmod 0644 "$o"/*
pkg=$out/tinymx_${version}_$arch.ipk
tar --format=gnu --numeric-owner --owner=0 --group=0 --mtime="@$SOURCE_DATE_EPOCH" \
	-C "$o" -cf - ./debian-binary ./data.tar.gz ./control.tar.gz | gzip -n -9 >"$pkg.tmp"
mv "$pkg.tmp" "$pkg"
echo "$pkg"
