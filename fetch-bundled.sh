#!/bin/sh
# fetch-bundled.sh - put the upstream sources of Lua 5.1.5 and libev 4.33
# into lua/ and libev/ at the top of lem's source tree, for
# `configure --with-lua=bundled --with-libev=bundled`.
#
# Copyright (C) 2026 the lem authors.  Part of lem, free software under
# the GNU General Public License version 3 or later; see COPYING.
#
# Usage: ./fetch-bundled.sh [-f] [lua] [libev]
#   -f      replace lua/ or libev/ if they exist already
#   names   what to fetch (default: both)
#
# The pristine upstream tarballs are taken, in this order, from
#   1. $LEM_TARBALLS, a directory holding lua-5.1.5.tar.gz or
#      lua5.1_5.1.5.orig.tar.gz, and libev-4.33.tar.gz or
#      libev_4.33.orig.tar.gz;
#   2. Debian's source archive: `apt-get source --download-only` (the
#      .orig.tar.gz, never Debian's patched tree).  As root, the script
#      enables deb-src in /etc/apt/sources.list.d/debian.sources when no
#      deb-src entry exists (set LEM_NO_APT_SETUP=1 to forbid that);
#   3. the upstream web sites, with curl or wget.
# Every tarball is checked against its SHA-256 before it is unpacked.
set -eu

LUA_VERSION=5.1.5
LUA_SHA256=2640fc56a795f29d28ef15e13c34a47e223960b0240e8cb0a82d9b0738695333
LUA_URL=https://www.lua.org/ftp/lua-$LUA_VERSION.tar.gz
EV_VERSION=4.33
EV_SHA256=507eb7b8d1015fbec5b935f34ebed15bf346bed04a11ab82b8eee848c4205aea
EV_URL=http://dist.schmorp.de/libev/Attic/libev-$EV_VERSION.tar.gz

top=$(cd "$(dirname "$0")" && pwd)
force=no
what=
for a in "$@"; do
	case $a in
	-f|--force) force=yes ;;
	lua|libev) what="$what $a" ;;
	-h|--help) sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "fetch-bundled.sh: unknown argument '$a' (try --help)" >&2; exit 2 ;;
	esac
done
test -n "$what" || what="lua libev"

work=$(mktemp -d "${TMPDIR:-/tmp}/lem-fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

say() { echo "fetch-bundled.sh: $*" >&2; }

sha256_of() {
	if command -v sha256sum >/dev/null 2>&1; then
		sha256sum "$1" | cut -d' ' -f1
	else
		shasum -a 256 "$1" | cut -d' ' -f1
	fi
}

# is there a deb-src entry in apt's configuration?
have_deb_src() {
	grep -Eqs '^[[:space:]]*(deb-src[[:space:]]|Types:.*deb-src)' \
		/etc/apt/sources.list /etc/apt/sources.list.d/*.list \
		/etc/apt/sources.list.d/*.sources
}

apt_ready=unknown
apt_setup() {
	test "$apt_ready" = unknown || { test "$apt_ready" = yes; return; }
	apt_ready=no
	command -v apt-get >/dev/null 2>&1 || return 1
	if ! have_deb_src; then
		deb822=/etc/apt/sources.list.d/debian.sources
		if [ "${LEM_NO_APT_SETUP:-0}" = 1 ] || [ "$(id -u)" != 0 ] ||
		   [ ! -w "$deb822" ]; then
			say "no deb-src entry in apt's sources; skipping apt-get source"
			return 1
		fi
		say "adding deb-src to the Types of $deb822"
		sed -i 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb deb-src/' "$deb822"
		apt-get update -q >&2 || return 1
	fi
	apt_ready=yes
}

# fetch NAME DEBSRC VERSION SHA256 URL: the tarball, checked, as $work/NAME.tar.gz
fetch() {
	name=$1 debsrc=$2 version=$3 sum=$4 url=$5
	for f in "${LEM_TARBALLS:-/nonexistent}/$name-$version.tar.gz" \
	         "${LEM_TARBALLS:-/nonexistent}/${debsrc}_$version.orig.tar.gz"; do
		if [ -f "$f" ]; then
			cp "$f" "$work/$name.tar.gz"
			check "$work/$name.tar.gz" "$sum" "$f" && return 0
		fi
	done
	if apt_setup; then
		mkdir -p "$work/apt"
		if (cd "$work/apt" && apt-get source -q --download-only "$debsrc" >&2); then
			f=$(ls "$work/apt/${debsrc}_$version.orig.tar."* 2>/dev/null | head -n 1)
			if [ -n "$f" ] && [ "${f%.gz}" != "$f" ]; then
				cp "$f" "$work/$name.tar.gz"
				check "$work/$name.tar.gz" "$sum" "Debian's ${f##*/}" && return 0
			else
				say "Debian has no ${debsrc}_$version.orig.tar.gz"
			fi
		fi
	fi
	if command -v curl >/dev/null 2>&1; then
		curl -fsSL -o "$work/$name.tar.gz" "$url" || true
	elif command -v wget >/dev/null 2>&1; then
		wget -q -O "$work/$name.tar.gz" "$url" || true
	fi
	if [ -s "$work/$name.tar.gz" ]; then
		check "$work/$name.tar.gz" "$sum" "$url" && return 0
	fi
	say "could not get $name $version (set LEM_TARBALLS to a directory holding $name-$version.tar.gz)"
	return 1
}

check() {
	got=$(sha256_of "$1")
	if [ "$got" != "$2" ]; then
		say "$3: SHA-256 $got, expected $2: ignored"
		return 1
	fi
	say "using $3"
}

# unpack TARBALL DIR: the tarball's single top directory becomes DIR
unpack() {
	rm -rf "$work/x"
	mkdir "$work/x"
	gzip -dc "$1" | (cd "$work/x" && tar -xf -)
	set -- "$1" "$2" "$work"/x/*
	if [ $# -ne 3 ] || [ ! -d "$3" ]; then
		say "$1 does not hold a single top directory"
		exit 1
	fi
	if [ -d "$top/$2" ]; then
		# keep what a configured build tree put there (lua/src/.deps)
		cp -pR "$3/." "$top/$2/"
	else
		mv "$3" "$top/$2"
	fi
}

# the file that tells whether lua/ or libev/ holds the sources
key_file() {
	case $1 in
	lua) echo "$top/lua/src/lapi.c" ;;
	libev) echo "$top/libev/ev.c" ;;
	esac
}

for w in $what; do
	if [ -e "$(key_file "$w")" ]; then
		if [ "$force" = no ]; then
			say "$w/ holds the sources already (use -f to replace them)"
			continue
		fi
		rm -rf "${top:?}/$w"
	fi
	case $w in
	lua)
		fetch lua lua5.1 "$LUA_VERSION" "$LUA_SHA256" "$LUA_URL"
		unpack "$work/lua.tar.gz" lua
		test -f "$top/lua/src/lapi.c" -a -f "$top/lua/COPYRIGHT" ;;
	libev)
		fetch libev libev "$EV_VERSION" "$EV_SHA256" "$EV_URL"
		unpack "$work/libev.tar.gz" libev
		test -f "$top/libev/ev.c" -a -f "$top/libev/LICENSE" ;;
	esac
	say "$w/ holds the upstream sources"
done
