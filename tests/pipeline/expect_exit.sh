#!/bin/sh
# expect_exit.sh CODE PATTERN COMMAND...: run COMMAND, pass when it exits with exactly CODE and its output
# (stdout and stderr) contains PATTERN (a fixed string).
code="$1"; pattern="$2"; shift 2
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$code" ]; then echo "expect_exit: exit code $rc, expected $code"; exit 1; fi
if ! printf '%s\n' "$out" | grep -qF -- "$pattern"; then echo "expect_exit: output lacks '$pattern'"; exit 1; fi
exit 0
