#!/bin/bash
# A/B of longseq-bench builds on the device machine (no Node there). Build each variant here and keep its binary as
# .carry/bench-<name>.xz (xz -T2 -c build/Release/longseq-bench > .carry/bench-<name>.xz; .carry/ is in
# .git/info/exclude), then run there, carrying .carry:
#   OP=fftConv-issue CHECK=fftConv ROUNDS=2 LIMIT=300 bash bench/deviceAb.sh base new ...
# Each round runs every build once on --op $OP (alternated, so that clock and thermal drift fall on all of them); after
# the first round, the checked bench --op $CHECK (every case against the CPU) of each build but the first (the
# baseline); rounds stop when LIMIT seconds are near. Raw output goes to $OUT/results.tgz (the device returns at most
# 8 files), the case lines to stdout.
set -u
names="$*"
op=${OP:-fftConv-issue} check=${CHECK:-} rounds=${ROUNDS:-2} limit=${LIMIT:-300}
start=$(date +%s) raw=$(mktemp -d)
left() { echo $((limit - ($(date +%s) - start))); }
save() { (cd "$raw" && tar czf "$OUT/results.tgz" ./*); }
for n in $names; do xz -dc ".carry/bench-$n.xz" > "/tmp/bench-$n" && chmod +x "/tmp/bench-$n"; done
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
for round in $(seq 1 "$rounds"); do
  for n in $names; do
    [ "$(left)" -lt 30 ] && { echo "== $n round $round: skipped (time)"; continue; }
    "/tmp/bench-$n" --backend cuda --op "$op" --json "$raw/$n-r$round.json" > "$raw/$n-r$round.txt" 2>&1
    echo "== $n round $round (rc $?)"; grep -E ' ms( |$)' "$raw/$n-r$round.txt" | sed 's/  */ /g'
  done
  save
  if [ "$round" = 1 ] && [ -n "$check" ]; then
    for n in ${names#* }; do
      [ "$(left)" -lt 40 ] && { echo "== checked $n: skipped (time)"; continue; }
      "/tmp/bench-$n" --backend cuda --op "$check" > "$raw/$n-checked.txt" 2>&1
      echo "== checked $n (rc $?): $(grep -c ' ok$' "$raw/$n-checked.txt") ok, $(grep -c FAIL "$raw/$n-checked.txt") FAIL"
    done
    save
  fi
done
