#!/bin/sh
# Checks that libgoro.so exports only goro's C API: every defined dynamic
# symbol is a go_* function (no Rust internals, no std, no goro_ctx_*), and
# that it carries the versioned soname.
#
#   tests/install/check-exports.sh [path/to/libgoro.so]    (default target/release/libgoro.so)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
so=${1:-$root/target/release/libgoro.so}
[ -f "$so" ] || { echo "check-exports: $so not found (cargo build --release)" >&2; exit 1; }

syms=$(nm -D --defined-only "$so" | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u)
bad=$(printf '%s\n' "$syms" | grep -v '^go_' || true)
if [ -n "$bad" ]; then
    echo "check-exports: $so exports symbols outside the go_* API:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
n=$(printf '%s\n' "$syms" | grep -c '^go_' || true)
[ "$n" -gt 0 ] || { echo "check-exports: no go_* symbol exported by $so" >&2; exit 1; }

# Every function goro.h declares is exported (and nothing the header does not declare).
decl=$(sed -n 's/^[a-z_0-9 ]*[ *]\(go_[a-z_0-9]*\)(.*/\1/p' "$root/include/goro.h" | sort -u)
missing=$(printf '%s\n' "$decl" | grep -vxF "$syms" || true)
extra=$(printf '%s\n' "$syms" | grep -vxF "$decl" || true)
if [ -n "$missing" ] || [ -n "$extra" ]; then
    [ -z "$missing" ] || { echo "check-exports: declared in goro.h but not exported:" >&2; printf '  %s\n' $missing >&2; }
    [ -z "$extra" ] || { echo "check-exports: exported but not declared in goro.h:" >&2; printf '  %s\n' $extra >&2; }
    exit 1
fi

major=$(sed -n '/^\[package\]/,/^\[/s/^version *= *"\([0-9]*\)\..*/\1/p' "$root/Cargo.toml" | head -n 1)
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = "libgoro.so.$major" ] || { echo "check-exports: soname is '$soname', want libgoro.so.$major" >&2; exit 1; }
echo "check-exports: $n go_* symbols, all declared in goro.h; soname $soname"
