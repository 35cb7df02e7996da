#!/bin/sh
# gdb's backtrace inside a goroutine shows its frames down to the entry
# trampoline and stops there cleanly (no "corrupt stack" complaints): for a
# goroutine started by a switch and for one started in place on the stack
# of a goroutine that exited (see core_gdb_target.c).
command -v gdb >/dev/null 2>&1 || { echo "gdb not installed: skipped"; exit 77; }
out=$(gdb -q -batch -nx -ex 'set debuginfod enabled off' -ex 'break goroutine_leaf' \
      -ex run -ex bt -ex continue -ex bt "$1" 2>&1)
echo "$out"
# A container or sandbox that forbids ptrace: gdb cannot run anything here.
if echo "$out" | grep -qE 'ptrace: Operation not permitted|Could not trace the inferior process'; then
  echo "ptrace not permitted here: skipped"; exit 77
fi
hits=$(echo "$out" | grep -c 'Breakpoint 1, goroutine_leaf')
[ "$hits" -eq 2 ] || { echo "FAIL: breakpoint hit $hits times, want 2"; exit 1; }
for n in 1 2; do
  # The n'th backtrace: the lines after the n'th stop, up to the next one.
  bt=$(echo "$out" | awk -v n="$n" '/Breakpoint 1, goroutine_leaf/ {k++} k == n && /^#[0-9]+/')
  echo "$bt" | grep -q 'goroutine_leaf' || { echo "FAIL: bt $n: leaf frame missing"; exit 1; }
  echo "$bt" | grep -q 'goroutine_middle' || { echo "FAIL: bt $n: caller frame missing"; exit 1; }
  echo "$bt" | grep -q 'goroutine_entry' || { echo "FAIL: bt $n: entry frame missing"; exit 1; }
  last=$(echo "$bt" | tail -1)
  echo "$last" | grep -q 'goro_ctx_trampoline' ||
    { echo "FAIL: bt $n: outermost frame is not the trampoline: $last"; exit 1; }
done
echo "$out" | grep -E '^#[0-9]+ .*goroutine_entry' | grep -q 'arg=0x1' ||
  { echo "FAIL: the second goroutine's backtrace was not taken"; exit 1; }
if echo "$out" | grep -qiE 'corrupt stack|previous frame identical|previous frame inner'; then
  echo "FAIL: gdb complains about the stack"; exit 1
fi
echo "PASS"
