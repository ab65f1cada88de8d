#!/usr/bin/env bash
# Packs what a GPU machine without LLVM/MLIR needs to test and time attn's
# GPU kernels: bundles compiled here with attn-compile, the runtime-only
# runner attn-bundle-run, bench/gpu/run_bundle.py and a driver script.
#
#   scripts/gpu-pack.sh [--chip CHIP] [--only PATTERN,...] OUTDIR
#
# Then, on the GPU machine: bash OUTDIR/run.sh (see bench/gpu/run-pack.sh).
#
# The bundles:
#   sweep/  a covering sample of the numerical sweep (unittests/JIT/
#           SweepTest.cpp): every head dim, sequence pair, head grouping and
#           mask kind at least once; run.sh checks each against fp64.
#   bench/  prefill shapes of 16k tokens x 16 heads (B·S = 16384 for S = 1k
#           .. 16k), D = 64/128/256, causal and not, in bf16; run.sh times
#           them.
#   tune/   the tile table's candidates (block-m × block-n × stages) for
#           D = 64/128/256 at B = 4, H = 16, S = 4096, causal and not, bf16;
#           run.sh times them (each configuration also has a small sweep/
#           case, sweep_tune_*, so that it is checked before it is timed);
#           and tune_d{64,128}_fast*: the table's tiles assembled with
#           --fast-assemble (checked by sweep_fast_*).
# Cases attn-compile refuses (e.g. a kernel that would spill) are reported,
# listed in OUTDIR/skipped.txt and left out; they do not stop the pack.
#
# --chip (default sm_90a, the lent H100s; native: GPU 0 of this machine) is
# the chip of every bundle.
# --only keeps the cases whose names match one of the comma-separated shell
# patterns (e.g. 'sweep_d64_*,bench_s1024_*'). The tools come from $ATTN_BIN
# (default: build/bin of this checkout).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${ATTN_BIN:-$ROOT/build/bin}

usage() {
  echo "usage: gpu-pack.sh [--chip CHIP] [--only PATTERN,...] OUTDIR" >&2
  exit 2
}
CHIP=sm_90a
ONLY="*"
OUT=
while (($#)); do
  case $1 in
  --chip) CHIP=${2:?--chip expects a chip}; shift 2 ;;
  --only) ONLY=${2:?--only expects patterns}; shift 2 ;;
  -*) usage ;;
  *) [[ -z $OUT ]] || usage; OUT=$1; shift ;;
  esac
done
[[ -n $OUT ]] || usage
for tool in attn-compile attn-bundle-run attn-bundle-info; do
  [[ -x $BIN/$tool ]] || { echo "gpu-pack: error: no $BIN/$tool (build it, or set ATTN_BIN)" >&2; exit 2; }
done
if [[ $CHIP == native ]]; then
  CHIP=$("$BIN/attn-bundle-info" --devices | sed -n 's/^  chip *//p' | head -n 1)
  [[ -n $CHIP ]] || { echo "gpu-pack: error: --chip native: no GPU visible" >&2; exit 2; }
fi

# name | B,Hq,Hkv,Sq,Sk,D,Dv | attn-compile flags | dtype (default f16)
SWEEP=(
  "sweep_d64_1x1_mha1|2,1,1,1,1,64,64|"
  "sweep_d96_1x147_gqa8x2_causal_br|2,8,2,1,147,96,96|--causal bottom-right"
  "sweep_d128_113x203_mqa6_causal_tl|1,6,1,113,203,128,128|--causal top-left"
  "sweep_d59_127x513_mha1_window|1,1,1,127,513,59,59|--window 64,0"
  "sweep_d64_1023x1024_gqa8x2_causal_br|1,8,2,1023,1024,64,64|--causal bottom-right"
  "sweep_d128_1024x1023_mqa6|1,6,1,1024,1023,128,128|"
  "sweep_d59_239x1_gqa8x2_causal_tl|2,8,2,239,1,59,59|--causal top-left"
  "sweep_d96_1024x1023_mha1_causal_tl|1,1,1,1024,1023,96,96|--causal top-left"
  "sweep_d128_127x513_gqa8x2_window_both|1,8,2,127,513,128,128|--window 32,32"
  "sweep_d64_239x1_mqa6_window_rows_masked|1,6,1,239,1,64,64|--window -1,0"
  "sweep_d59_1x147_mqa6|2,6,1,1,147,59,59|"
  "sweep_d96_113x203_mha1_causal_br_window|1,1,1,113,203,96,96|--causal bottom-right --window 40,-1"
  "sweep_d128x96_127x513_gqa8x2_causal_br|1,8,2,127,513,128,96|--causal bottom-right"
  "sweep_d256_113x203_gqa8x2_causal_br|1,8,2,113,203,256,256|--causal bottom-right"
  "sweep_d256_1023x1024_mha1|1,1,1,1023,1024,256,256|"
  "sweep_bf16_d64_1023x1024_gqa8x2_causal_br|1,8,2,1023,1024,64,64|--causal bottom-right|bf16"
  "sweep_bf16_d128_113x203_mqa6_window|1,6,1,113,203,128,128|--window 48,16|bf16"
  "sweep_bf16_d256_127x513_mha1|1,1,1,127,513,256,256||bf16"
  "sweep_d59_113x203_gqa8x2_keep|1,8,2,113,203,59,59|--mask keep --mask-shape 1,1,113,203"
  "sweep_bf16_d128_127x513_mha1_bias_softcap|2,4,4,127,513,128,128|--mask f32 --mask-shape 2,1,127,513 --softcap 30|bf16"
  "sweep_d96_1024x1023_gqa8x2_causal_tl_bias_f16|1,8,2,1024,1023,96,96|--causal top-left --mask f16|f16"
)
BENCH=()
TUNE_CASES=()
for s in 1024 2048 4096 8192 16384; do
  for d in 64 128 256; do
    for causal in "" "--causal bottom-right"; do
      BENCH+=("bench_s${s}_b$((16384 / s))_h16_d${d}${causal:+_causal}|$((16384 / s)),16,16,$s,$s,$d,$d|$causal")
    done
  done
done

# D | block-m | block-n | stages
TUNE=(
  "64|64|64|2" "64|64|64|3" "64|128|64|2" "64|128|64|3" "64|128|32|3"
  "128|64|64|2" "128|64|64|3" "128|64|32|2" "128|64|32|3" "128|128|32|2"
  "128|128|32|3" "128|128|16|3"
  "256|64|32|1" "256|64|32|2" "256|64|16|3"
)
for t in "${TUNE[@]}"; do
  IFS='|' read -r d bm bn st <<<"$t"
  tiles="--block-m $bm --block-n $bn --stages $st"
  SWEEP+=("sweep_tune_d${d}_m${bm}_n${bn}_s${st}|1,4,2,300,333,$d,$d|--causal bottom-right $tiles|bf16")
  for causal in "" "--causal bottom-right"; do
    TUNE_CASES+=("tune_d${d}_m${bm}_n${bn}_s${st}${causal:+_causal}|4,16,16,4096,4096,$d,$d|$causal $tiles")
  done
done

# The table's tiles (the same kernels as tune_d64_m64_n64_s3 on sm_90/sm_90a
# and tune_d128_m64_n32_s2) assembled with ptxas --Ofast-compile=min
# (attn-compile --fast-assemble): what the faster compile costs in speed.
for d in 64 128; do
  SWEEP+=("sweep_fast_d${d}|1,4,2,300,333,$d,$d|--causal bottom-right --fast-assemble|bf16")
  for causal in "" "--causal bottom-right"; do
    TUNE_CASES+=("tune_d${d}_fast${causal:+_causal}|4,16,16,4096,4096,$d,$d|$causal --fast-assemble")
  done
done

selected() {
  local pattern
  IFS=, read -ra patterns <<<"$ONLY"
  for pattern in "${patterns[@]}"; do
    # shellcheck disable=SC2053 # a pattern, on purpose
    [[ $1 == $pattern ]] && return 0
  done
  return 1
}

# A pack is made afresh: no bundle of an earlier one stays behind.
rm -rf "$OUT/sweep" "$OUT/bench" "$OUT/tune"
mkdir -p "$OUT/sweep" "$OUT/bench" "$OUT/tune"
: >"$OUT/skipped.txt"
declare -A packed=([sweep]=0 [bench]=0 [tune]=0)
skipped=0
# One bundle: DIR/NAME.attnb.
pack() {
  local dir=$1 name=$2 shape=$3 flags=$4 dtype=$5 error=
  # shellcheck disable=SC2086 # flags are words
  if error=$("$BIN/attn-compile" --shape "$shape" --dtype "$dtype" $flags \
    --chip "$CHIP" --out "$OUT/$dir/$name.attnb" 2>&1 >/dev/null); then
    echo "packed $dir/$name.attnb ($dtype)"
    packed[$dir]=$((packed[$dir] + 1))
    return
  fi
  echo "skipped $name: $error" | tee -a "$OUT/skipped.txt"
  skipped=$((skipped + 1))
}
for case in "${SWEEP[@]}"; do
  IFS='|' read -r name shape flags dtype <<<"$case"
  if selected "$name"; then pack sweep "$name" "$shape" "$flags" "${dtype:-f16}"; fi
done
for case in "${BENCH[@]}"; do
  IFS='|' read -r name shape flags <<<"$case"
  if selected "$name"; then pack bench "$name" "$shape" "$flags" bf16; fi
done
for case in "${TUNE_CASES[@]}"; do
  IFS='|' read -r name shape flags <<<"$case"
  if selected "$name"; then pack tune "$name" "$shape" "$flags" bf16; fi
done

cp "$BIN/attn-bundle-run" "$ROOT/bench/gpu/run_bundle.py" "$OUT/"
cp "$ROOT/bench/gpu/run-pack.sh" "$OUT/run.sh"
echo "gpu-pack: $OUT ($(du -sh "$OUT" | cut -f1)): ${packed[sweep]} sweep," \
  "${packed[bench]} bench and ${packed[tune]} tune bundles for $CHIP," \
  "$skipped skipped; run: bash $OUT/run.sh"
