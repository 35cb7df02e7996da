#!/bin/sh
# Assemble src/arch/aarch64.S with the cross compiler and run the switch test
# under qemu-aarch64. Skips (exit 77) when the tools are missing: install
# Debian's gcc-aarch64-linux-gnu and qemu-user (.ci/run does).
set -e
asm="$1"
dir=$(dirname "$0")
if ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
  echo "SKIPPED: aarch64-linux-gnu-gcc or qemu-aarch64 not installed (apt-get install gcc-aarch64-linux-gnu qemu-user)"
  exit 77
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
aarch64-linux-gnu-gcc -O2 -static -Wall -Wextra -o "$out/switch_test" "$dir/switch_test.c" "$asm"
# The object must not ask for an executable stack either.
aarch64-linux-gnu-gcc -c -o "$out/a.o" "$asm"
aarch64-linux-gnu-readelf -SW "$out/a.o" | grep -q 'note.GNU-stack' || { echo "FAIL: no .note.GNU-stack"; exit 1; }
qemu-aarch64 "$out/switch_test"
