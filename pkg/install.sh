#!/bin/sh
# Installs (or uninstalls) goro into a prefix, the way a C library installs.
#
#   pkg/install.sh [install|uninstall] [options]
#
#   --prefix DIR      default /usr/local                      (env PREFIX)
#   --libdir DIR      default PREFIX/lib                      (env LIBDIR)
#   --includedir DIR  default PREFIX/include                  (env INCLUDEDIR)
#   --destdir DIR     staging root prepended to every path    (env DESTDIR)
#   --build-dir DIR   where cargo left libgoro.so/.a, default target/release
#
# `make install PREFIX=... [DESTDIR=...]` calls this after `cargo build --release`.
#
# Installs:
#   LIBDIR/libgoro.so.X.Y.Z            the shared library, soname libgoro.so.X
#   LIBDIR/libgoro.so.X -> libgoro.so.X.Y.Z
#   LIBDIR/libgoro.so   -> libgoro.so.X      (the link-time name, for -lgoro)
#   LIBDIR/libgoro.a                   the static library
#   INCLUDEDIR/goro.h, INCLUDEDIR/goro.hpp
#   LIBDIR/pkgconfig/goro.pc           pkg-config (Libs.private: static link)
#   LIBDIR/pkgconfig/goro-static.pc    pkg-config for linking libgoro.a into a
#                                      dynamically linked program
#   LIBDIR/cmake/goro/goroConfig.cmake, goroConfigVersion.cmake
#                                      CMake package: goro::goro, goro::goro_static
#
# The version comes from Cargo.toml. Nothing is built here and nothing outside
# those paths is touched; run ldconfig yourself for a system prefix.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

# The system libraries that libgoro.a needs (Rust's std and the libc crate),
# as printed by `cargo rustc --release -- --print native-static-libs`
# (minus -lc, which every C/C++ link has anyway). tests/install/run.sh links
# a static consumer with exactly these, so a change in Rust's needs shows up
# there.
NATIVE_STATIC_LIBS="-lgcc_s -lutil -lrt -lpthread -lm -ldl"

action=install
prefix=${PREFIX:-/usr/local}
libdir=${LIBDIR:-}
includedir=${INCLUDEDIR:-}
destdir=${DESTDIR:-}
builddir=$root/target/release

die() { echo "pkg/install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case $1 in
        install|uninstall) action=$1 ;;
        --prefix) prefix=$2; shift ;;
        --prefix=*) prefix=${1#*=} ;;
        --libdir) libdir=$2; shift ;;
        --libdir=*) libdir=${1#*=} ;;
        --includedir) includedir=$2; shift ;;
        --includedir=*) includedir=${1#*=} ;;
        --destdir) destdir=$2; shift ;;
        --destdir=*) destdir=${1#*=} ;;
        --build-dir) builddir=$2; shift ;;
        --build-dir=*) builddir=${1#*=} ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
    shift
done

case $prefix in /*) ;; *) die "--prefix must be an absolute path (got '$prefix')" ;; esac
prefix=${prefix%/}
base=$prefix            # "" for prefix /, so that "$base"/* matches what is under it
[ -n "$prefix" ] || prefix=/
libdir=${libdir:-$prefix/lib}
includedir=${includedir:-$prefix/include}
for d in "$libdir" "$includedir"; do
    case $d in /*) ;; *) die "directories must be absolute (got '$d')" ;; esac
done
destdir=${destdir%/}

# Version from Cargo.toml's [package] table.
version=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([^"]*\)".*/\1/p' "$root/Cargo.toml" | head -n 1)
echo "$version" | grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+' || die "no version in Cargo.toml"
major=${version%%.*}
soname=libgoro.so.$major
real=libgoro.so.$version

D=$destdir
pcdir=$libdir/pkgconfig
cmakedir=$libdir/cmake/goro

if [ "$action" = uninstall ]; then
    for f in "$libdir/libgoro.so" "$libdir/$soname" "$libdir/$real" "$libdir/libgoro.a" \
             "$includedir/goro.h" "$includedir/goro.hpp" "$pcdir/goro.pc" "$pcdir/goro-static.pc" \
             "$cmakedir/goroConfig.cmake" "$cmakedir/goroConfigVersion.cmake"; do
        if [ -e "$D$f" ] || [ -L "$D$f" ]; then
            rm -f "$D$f" && echo "removed $D$f"
        fi
    done
    rmdir "$D$cmakedir" 2>/dev/null && rmdir "$D$libdir/cmake" 2>/dev/null || true
    exit 0
fi

so=$builddir/libgoro.so
a=$builddir/libgoro.a
[ -f "$so" ] && [ -f "$a" ] || die "$so or $a missing: run 'cargo build --release' (or 'make build') first"
[ -f "$root/include/goro.h" ] && [ -f "$root/include/goro.hpp" ] || die "include/goro.h or include/goro.hpp missing"

# The library must carry the soname the symlinks promise (build.rs sets it).
if command -v readelf >/dev/null 2>&1; then
    have=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
    [ "$have" = "$soname" ] || die "$so has soname '${have:-none}', want '$soname' (see build.rs)"
fi

# Paths as the installed files see them: relative to the prefix when they are
# under it (so the pkg-config file and the CMake package stay relocatable).
under_prefix() { # $1: absolute dir -> "${prefix}/rel" form, or the dir itself
    case $1 in
        "$prefix") echo '${prefix}' ;;
        "$base"/*) echo '${prefix}'"${1#"$base"}" ;;
        *) echo "$1" ;;
    esac
}
pc_libdir=$(under_prefix "$libdir")
pc_includedir=$(under_prefix "$includedir")

# For the CMake package: the prefix relative to $cmakedir, and libdir and
# includedir relative to the prefix (absolute when outside it).
rel_up=$(echo "${cmakedir#"$base"}" | sed 's|/[^/]*|/..|g; s|^/||')
case $cmakedir in "$base"/*) ;; *) rel_up="" ;; esac
cm_path() { # $1: absolute dir -> CMake expression
    case $1 in
        "$prefix") echo '${_goro_prefix}' ;;
        "$base"/*) [ -n "$rel_up" ] && echo '${_goro_prefix}'"${1#"$base"}" || echo "$1" ;;
        *) echo "$1" ;;
    esac
}
cm_libdir=$(cm_path "$libdir")
cm_includedir=$(cm_path "$includedir")
cm_prefix_expr='${CMAKE_CURRENT_LIST_DIR}/'"$rel_up"
[ -n "$rel_up" ] || cm_prefix_expr=$prefix
cm_static_libs=$(echo "$NATIVE_STATIC_LIBS" | sed 's/-l//g; s/^ *//; s/ *$//; s/  */;/g')

subst() { # $1 template, $2 output
    sed -e "s|@VERSION@|$version|g" \
        -e "s|@SONAME@|$soname|g" \
        -e "s|@REALNAME@|$real|g" \
        -e "s|@PREFIX@|$prefix|g" \
        -e "s|@PC_LIBDIR@|$pc_libdir|g" \
        -e "s|@PC_INCLUDEDIR@|$pc_includedir|g" \
        -e "s|@CMAKE_PREFIX_EXPR@|$cm_prefix_expr|g" \
        -e "s|@CMAKE_LIBDIR@|$cm_libdir|g" \
        -e "s|@CMAKE_INCLUDEDIR@|$cm_includedir|g" \
        -e "s|@NATIVE_STATIC_LIBS@|$NATIVE_STATIC_LIBS|g" \
        -e "s|@CMAKE_STATIC_LIBS@|$cm_static_libs|g" \
        "$1" > "$2"
}

umask 022
mkdir -p "$D$libdir" "$D$includedir" "$D$pcdir" "$D$cmakedir"

# Replace, never write through: a running program may have the old file mapped.
rm -f "$D$libdir/$real.tmp" && cp "$so" "$D$libdir/$real.tmp" && chmod 755 "$D$libdir/$real.tmp"
mv -f "$D$libdir/$real.tmp" "$D$libdir/$real"
ln -sfn "$real" "$D$libdir/$soname"
ln -sfn "$soname" "$D$libdir/libgoro.so"
rm -f "$D$libdir/libgoro.a.tmp" && cp "$a" "$D$libdir/libgoro.a.tmp" && chmod 644 "$D$libdir/libgoro.a.tmp"
mv -f "$D$libdir/libgoro.a.tmp" "$D$libdir/libgoro.a"
cp "$root/include/goro.h" "$root/include/goro.hpp" "$D$includedir/"
chmod 644 "$D$includedir/goro.h" "$D$includedir/goro.hpp"
subst "$here/goro.pc.in" "$D$pcdir/goro.pc"
subst "$here/goro-static.pc.in" "$D$pcdir/goro-static.pc"
subst "$here/goroConfig.cmake.in" "$D$cmakedir/goroConfig.cmake"
subst "$here/goroConfigVersion.cmake.in" "$D$cmakedir/goroConfigVersion.cmake"
chmod 644 "$D$pcdir/goro.pc" "$D$pcdir/goro-static.pc" "$D$cmakedir/goroConfig.cmake" "$D$cmakedir/goroConfigVersion.cmake"

echo "installed goro $version into $D$prefix:"
for f in "$libdir/$real" "$libdir/$soname" "$libdir/libgoro.so" "$libdir/libgoro.a" \
         "$includedir/goro.h" "$includedir/goro.hpp" "$pcdir/goro.pc" "$pcdir/goro-static.pc" \
         "$cmakedir/goroConfig.cmake" "$cmakedir/goroConfigVersion.cmake"; do
    echo "  $D$f"
done
