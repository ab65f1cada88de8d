#!/usr/bin/env bash
# run.sh of a pack made by scripts/gpu-pack.sh, for a GPU machine with an
# NVIDIA driver (and, for the torch comparison, python3 with torch and cupy)
# but no LLVM/MLIR:
#
#   bash PACK/run.sh            REPEAT=N sets the timed launches (default 20)
#
# 1. correctness: every sweep/ bundle with attn-bundle-run --random 0 --check
#    (fp64 reference, FlashAttention's rule), one line per case;
# 2. timings: every bench/ bundle, then every tune/ bundle (the tile
#    table's candidates), with attn-bundle-run --repeat;
# 3. torch: bench/gpu/run_bundle.py on the bench/ bundles (check on the GPU,
#    timing next to torch's SDPA), when torch and cupy can be imported.
# Exit status 1 when a case fails or cannot run, 0 otherwise.
set -uo pipefail
PACK=$(cd "$(dirname "$0")" && pwd)
RUN=$PACK/attn-bundle-run
REPEAT=${REPEAT:-20}
status=0

# "O 1.2E-04 <= 4.9E-04 LSE 0.0E+00 <= 1.0E-04" from the check lines.
errors() {
  sed -n 's/^check \([A-Z]*\): max|out-ref| = \([^,]*\), bound \([^ ]*\) .*/\1 \2 <= \3/p' |
    paste -sd' ' -
}

echo "## correctness: attn-bundle-run --random 0 --check"
ok=0 total=0
for bundle in "$PACK"/sweep/*.attnb; do
  [[ -e $bundle ]] || continue
  total=$((total + 1))
  output=$("$RUN" "$bundle" --random 0 --check 2>&1)
  case $? in
  0) result="ok     $(errors <<<"$output")"; ok=$((ok + 1)) ;;
  1) result="FAILED $(errors <<<"$output")"; status=1 ;;
  *) result="ERROR  $(tail -n 1 <<<"$output")"; status=1 ;;
  esac
  printf '%-46s %s\n' "$(basename "$bundle" .attnb)" "$result"
done
echo "$ok/$total cases ok"

# Times every bundle of directory $1, one line each.
timings() {
  local bundle output result
  for bundle in "$PACK/$1"/*.attnb; do
    [[ -e $bundle ]] || continue
    if output=$("$RUN" "$bundle" --random 0 --repeat "$REPEAT" 2>&1); then
      result=$(sed -n 's/^time: //p' <<<"$output")
    else
      result="ERROR $(tail -n 1 <<<"$output")"
      status=1
    fi
    printf '%-46s %s\n' "$(basename "$bundle" .attnb)" "$result"
  done
}
echo "## timings: attn-bundle-run --random 0 --repeat $REPEAT"
timings bench
echo "## tile configurations: attn-bundle-run --random 0 --repeat $REPEAT"
timings tune

echo "## torch: run_bundle.py (check on the GPU, SDPA for comparison)"
if ! compgen -G "$PACK/bench/*.attnb" >/dev/null; then
  echo "no bench bundles"
elif python3 -c 'import torch, cupy' 2>/dev/null; then
  python3 "$PACK/run_bundle.py" "$PACK"/bench/*.attnb --repeat "$REPEAT" || status=1
else
  echo "skipped: python3 cannot import torch and cupy"
fi
exit $status
