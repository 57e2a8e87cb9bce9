#!/bin/sh
# expect_exit.sh CODE REGEX COMMAND... — runs COMMAND, passes when it exits with CODE and its combined output
# matches the extended regular expression REGEX (so a CLI test checks both the exit code and the message).
code=$1
regex=$2
shift 2
out=$("$@" 2>&1)
rc=$?
printf '%s\n' "$out"
if [ "$rc" -ne "$code" ]; then
  echo "expect_exit: exit code $rc, expected $code" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | grep -Eq -- "$regex"; then
  echo "expect_exit: output does not match: $regex" >&2
  exit 1
fi
