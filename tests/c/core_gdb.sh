#!/bin/sh
# gdb's backtrace inside a goroutine shows its frames down to the entry
# trampoline and stops there cleanly (no "corrupt stack" complaints).
command -v gdb >/dev/null 2>&1 || { echo "gdb not installed: skipped"; exit 77; }
out=$(gdb -q -batch -nx -ex 'set debuginfod enabled off' -ex 'break goroutine_leaf' -ex run -ex bt "$1" 2>&1)
echo "$out"
echo "$out" | grep -q 'goroutine_leaf' || { echo "FAIL: breakpoint not hit"; exit 1; }
echo "$out" | grep -q 'goroutine_middle' || { echo "FAIL: caller frame missing"; exit 1; }
echo "$out" | grep -q 'goroutine_entry' || { echo "FAIL: entry frame missing"; exit 1; }
last=$(echo "$out" | grep -E '^#[0-9]+' | tail -1)
echo "$last" | grep -q 'goro_ctx_trampoline' || { echo "FAIL: outermost frame is not the trampoline: $last"; exit 1; }
if echo "$out" | grep -qiE 'corrupt stack|previous frame identical|previous frame inner'; then
  echo "FAIL: gdb complains about the stack"; exit 1
fi
echo "PASS"
