#!/usr/bin/env bash
# Installs libmicrobatch for C and C++ programs, laid out as cargo-c does:
#
#   PREFIX/include/microbatch/microbatch.h        the C API (include/microbatch.h)
#   PREFIX/include/microbatch/microbatch_frame.h  standalone frame decoder (bindings/c)
#   PREFIX/include/microbatch/microbatch.hpp      C++17 RAII wrapper (bindings/cpp)
#   LIBDIR/libmicrobatch.so
#   LIBDIR/pkgconfig/microbatch.pc                 Cflags: -I${includedir}/microbatch
#
# after which `cc app.c $(pkg-config --cflags --libs microbatch)` builds a
# program that says `#include <microbatch.h>`.
#
# Usage:
#   scripts/install.sh [--prefix DIR] [--libdir DIR] [--destdir DIR]
#                      [--no-build | --library FILE] [--uninstall]
#
#   --prefix DIR    where it goes (default /usr/local)
#   --libdir DIR    the library directory; relative to the prefix unless
#                   absolute (default lib)
#   --destdir DIR   staging root for packagers: files go to DIR/PREFIX/...,
#                   while microbatch.pc still names PREFIX (also $DESTDIR)
#   --no-build      install the library already in target/release (or
#                   $CARGO_TARGET_DIR/release) without running cargo, e.g.
#                   `cargo build --release --lib && sudo scripts/install.sh --no-build`
#   --library FILE  install this built libmicrobatch.so (implies --no-build)
#   --uninstall     remove what an install with the same options put there
#
# The library has no SONAME (see README, "Install (C and C++)"): programs
# record libmicrobatch.so itself as their dependency.
set -euo pipefail

die() { echo "install.sh: $*" >&2; exit 2; }

prefix=/usr/local
libdir_opt=lib
destdir=${DESTDIR:-}
build=1
library=
action=install
while (($#)); do
  case $1 in
    --prefix) [[ $# -ge 2 ]] || die "--prefix needs a directory"; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --libdir) [[ $# -ge 2 ]] || die "--libdir needs a directory"; libdir_opt=$2; shift 2 ;;
    --libdir=*) libdir_opt=${1#*=}; shift ;;
    --destdir) [[ $# -ge 2 ]] || die "--destdir needs a directory"; destdir=$2; shift 2 ;;
    --destdir=*) destdir=${1#*=}; shift ;;
    --no-build) build=0; shift ;;
    --library) [[ $# -ge 2 ]] || die "--library needs a file"; library=$2; build=0; shift 2 ;;
    --library=*) library=${1#*=}; build=0; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (try --help)" ;;
  esac
done

# Paths given relative to where the command was run, before moving to the
# repository root. pkg-config needs an absolute prefix.
[[ -n $prefix ]] || die "--prefix is empty"
prefix=$(realpath -m -- "$prefix")
[[ -z $destdir ]] || destdir=$(realpath -m -- "$destdir")
[[ -z $library ]] || library=$(realpath -e -- "$library") || die "--library: no such file"
case $libdir_opt in
  /*) libdir=$(realpath -m -- "$libdir_opt") ;;
  *) libdir=$(realpath -m -- "$prefix/$libdir_opt") ;;
esac
includedir=$prefix/include
# In microbatch.pc, a libdir under the prefix is written relative to it, as
# cargo-c and autotools write it.
case $libdir in
  "$prefix"/*) pc_libdir='${exec_prefix}'${libdir#"$prefix"} ;;
  *) pc_libdir=$libdir ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/.."

headers=(include/microbatch.h bindings/c/microbatch_frame.h bindings/cpp/microbatch.hpp)
inc_dest=$destdir$includedir/microbatch
lib_dest=$destdir$libdir
pc_dest=$destdir$libdir/pkgconfig

if [[ $action == uninstall ]]; then
  for h in "${headers[@]}"; do rm -fv -- "$inc_dest/${h##*/}"; done
  rm -fv -- "$lib_dest/libmicrobatch.so" "$pc_dest/microbatch.pc"
  # Only the directory that is ours alone; lib/ and lib/pkgconfig are shared.
  [[ ! -d $inc_dest ]] || rmdir --ignore-fail-on-non-empty -- "$inc_dest"
  exit 0
fi

# The library: built here (a no-op when target/release is up to date), or given.
if [[ -z $library ]]; then
  if ((build)); then
    command -v cargo >/dev/null || die "cargo is not installed: build the library elsewhere and pass --no-build or --library FILE"
    cargo build --release --lib
  fi
  library=${CARGO_TARGET_DIR:-target}/release/libmicrobatch.so
  [[ -f $library ]] || die "$library is missing: run 'cargo build --release --lib' first"
fi

# Cargo.toml's [package] keys (the first table: the workspace members follow it).
package_key() {
  awk -v key="$1" '
    /^\[/ { in_package = ($0 == "[package]"); next }
    in_package && $1 == key { sub(/^[^=]*=[ \t]*"/, ""); sub(/"[ \t]*$/, ""); print; exit }
  ' Cargo.toml
}
version=$(package_key version)
description=$(package_key description)
[[ -n $version ]] || die "no version in Cargo.toml's [package]"

# Libs.private: what libmicrobatch.so itself links (its DT_NEEDED entries),
# less libc and the dynamic loader, which every C program gets anyway. Only
# `pkg-config --static` shows it; there is no static library.
libs_private=
if command -v readelf >/dev/null; then
  libs_private=$(readelf -d "$library" | sed -n 's/.*(NEEDED).*\[lib\([^].]*\)\.so[^]]*\].*/-l\1/p' |
    grep -vx -e -lc -e '-lld-linux.*' | tr '\n' ' ' | sed 's/ $//')
else
  libs_private="-lgcc_s -lpthread -ldl -lm"  # what Rust's std needs on glibc
fi

# sed replacement text: escape the delimiter, & and backslashes.
sed_escape() { printf '%s' "$1" | sed 's/[|&\\]/\\&/g'; }

install -d -- "$inc_dest" "$lib_dest" "$pc_dest"
for h in "${headers[@]}"; do install -m 644 -- "$h" "$inc_dest/"; done
install -m 755 -- "$library" "$lib_dest/libmicrobatch.so"
sed -e "s|@PREFIX@|$(sed_escape "$prefix")|" \
    -e "s|@LIBDIR@|$(sed_escape "$pc_libdir")|" \
    -e "s|@VERSION@|$(sed_escape "$version")|" \
    -e "s|@DESCRIPTION@|$(sed_escape "$description")|" \
    -e "s|@LIBS_PRIVATE@|$(sed_escape "$libs_private")|" \
    bindings/c/microbatch.pc.in >"$pc_dest/microbatch.pc"
chmod 644 -- "$pc_dest/microbatch.pc"

echo "installed microbatch $version:"
for h in "${headers[@]}"; do echo "  $inc_dest/${h##*/}"; done
echo "  $lib_dest/libmicrobatch.so"
echo "  $pc_dest/microbatch.pc"

[[ -z $destdir ]] || exit 0
# A library directory the dynamic loader knows gets its cache refreshed (it
# finds libraries in /usr/local/lib only through the cache); anywhere else,
# say how programs find the library and how pkg-config finds the .pc file.
if [[ $(id -u) -eq 0 ]] && command -v ldconfig >/dev/null &&
   cat /etc/ld.so.conf /etc/ld.so.conf.d/*.conf 2>/dev/null | grep -qx -- "$libdir"; then
  ldconfig
else
  echo "run programs with LD_LIBRARY_PATH=$libdir (or link with -Wl,-rpath,$libdir)"
fi
pc_path=$(pkg-config --variable pc_path pkg-config 2>/dev/null || true)
case ":$pc_path:" in
  *":$libdir/pkgconfig:"*) ;;
  *) echo "pkg-config finds it with PKG_CONFIG_PATH=$libdir/pkgconfig" ;;
esac
