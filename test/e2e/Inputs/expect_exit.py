#!/usr/bin/env python3
"""Runs a command and fails unless it exits with the given status.

  expect_exit.py STATUS CMD ARGS...

The command's stdout and stderr are passed through (stderr onto stdout, so
that FileCheck sees both).
"""
import subprocess
import sys

want = int(sys.argv[1])
proc = subprocess.run(sys.argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
sys.stdout.write(proc.stdout.decode("utf-8", "replace"))
if proc.returncode != want:
    sys.stdout.write(f"expect_exit: exit status {proc.returncode}, expected {want}\n")
    sys.exit(1)
