#!/usr/bin/env bash
# run-fuzzers.sh: builds the libFuzzer targets with clang in their own build dir, runs each for a bounded time, fails on any crash.
#
# Usage: tests/fuzz/run-fuzzers.sh [TARGET...]
#   TARGET: envelope bounded_json dead_letter config redis_url (default: all)
# Environment:
#   FUZZ_SECONDS    seconds per target (default 60)
#   FUZZ_JOBS       targets fuzzed at once (default: the number of CPUs)
#   FUZZ_BUILD_DIR  build directory (default build-fuzz, under the source tree)
#   FUZZ_CC/FUZZ_CXX  compilers (default clang-14 / clang++-14, Debian 12's clang with libFuzzer)
#   FUZZ_ARGS       extra libFuzzer flags (e.g. "-jobs=2 -workers=2")
# New interesting inputs go to BUILD/fuzz/corpus/TARGET (not into the repository); a crash leaves
# BUILD/fuzz/artifacts/TARGET/crash-* and makes the script exit 1. To keep a crash as a
# regression: copy the file to tests/fuzz/regressions/TARGET/ (fuzz_replay_test replays it), add a
# unit test next to the code concerned, and fix the code.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=${FUZZ_BUILD_DIR:-build-fuzz}
seconds=${FUZZ_SECONDS:-60}
jobs=${FUZZ_JOBS:-$(nproc)}
cc=${FUZZ_CC:-clang-14}
cxx=${FUZZ_CXX:-clang++-14}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(envelope bounded_json dead_letter config redis_url)

declare -A max_len=([envelope]=65536 [bounded_json]=65536 [dead_letter]=65536 [config]=16384
                   [redis_url]=512)
declare -A dict=([envelope]=json.dict [bounded_json]=json.dict [dead_letter]=json.dict
                [config]=yaml.dict [redis_url]=redis_url.dict)

cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" --target fuzzers

for target in "${targets[@]}"; do
  [ -n "${max_len[$target]:-}" ] || { echo "run-fuzzers: unknown target $target" >&2; exit 2; }
done

# fuzz TARGET: runs one target for $seconds; its status goes to $build/fuzz/TARGET.status.
fuzz() {
  local target=$1 status=0
  local corpus="$build/fuzz/corpus/$target" artifacts="$build/fuzz/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  # shellcheck disable=SC2086
  "$build/fuzz/fuzz_$target" "$corpus" "tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="${max_len[$target]}" \
    -dict="tests/fuzz/dict/${dict[$target]}" -artifact_prefix="$artifacts" \
    -print_final_stats=1 ${FUZZ_ARGS:-} >"$build/fuzz/$target.log" 2>&1 || status=$?
  echo "$status" >"$build/fuzz/$target.status"
}

# Up to $jobs targets at once (each libFuzzer process uses one core), then each one's report in
# the order given.
running=0
for target in "${targets[@]}"; do
  echo "== fuzz_$target: ${seconds}s (corpus $build/fuzz/corpus/$target + tests/fuzz/corpus/$target)"
  rm -f "$build/fuzz/$target.status"
  fuzz "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait

failed=()
for target in "${targets[@]}"; do
  log="$build/fuzz/$target.log"
  artifacts="$build/fuzz/artifacts/$target/"
  status=$(cat "$build/fuzz/$target.status" 2>/dev/null || echo "no status")
  echo "== fuzz_$target:"
  grep -E "Seed:|INITED|DONE|ERROR|SUMMARY|invariant failed|stat::number_of_executed_units|stat::peak_rss|Test unit written" "$log" || true
  if [ "$status" != 0 ]; then
    echo "== fuzz_$target: FAILED (exit $status), see $log and $artifacts" >&2
    # The input, so a failure on a machine whose files are gone can be reproduced from its log:
    # `base64 -d > crash` then `$build/fuzz/fuzz_$target crash`.
    for crash in "$artifacts"*; do
      [ -f "$crash" ] || continue
      echo "== $(basename "$crash") ($(stat -c %s "$crash") bytes), base64 of its first 16 KiB:" >&2
      head -c 16384 "$crash" | base64 -w 0 >&2
      echo >&2
    done
    failed+=("$target")
  else
    echo "== fuzz_$target: ok"
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run-fuzzers: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "run-fuzzers: no crash in ${targets[*]} (${seconds}s each)"
