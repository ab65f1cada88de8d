#!/usr/bin/env python3
"""Runs a command and fails unless it exits with the given status.

  expect_exit.py STATUS CMD ARGS...

The command's stdout, then its stderr, are passed through on stdout (so that
FileCheck sees both). For a non-zero STATUS the command must also keep the
tools' contract of exactly one line on stderr.
"""
import subprocess
import sys

want = int(sys.argv[1])
proc = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
err = proc.stderr.decode("utf-8", "replace")
sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
sys.stdout.write(err)
if proc.returncode != want:
    sys.stdout.write(f"expect_exit: exit status {proc.returncode}, expected {want}\n")
    sys.exit(1)
if want != 0 and len(err.splitlines()) != 1:
    sys.stdout.write(f"expect_exit: {len(err.splitlines())} lines on stderr, expected 1\n")
    sys.exit(1)
