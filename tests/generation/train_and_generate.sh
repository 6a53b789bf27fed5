#!/usr/bin/env bash
# CPU smoke test of the text pipeline: a tiny xlstm-train run on a text file (configs/text_bytes.yaml
# shrunk with --set), then xlstm-generate from its output directory: text streaming with the
# prompt echoed, the stats line, seeds, --prompt-ids with several samples, interactive turns, a bad
# prompt, and Ctrl-C (a clean end with exit code 130).
# Usage: train_and_generate.sh SOURCE_DIR BINARY_DIR
set -euo pipefail
src=$1
bin=$2/bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin/xlstm-train" --config "$src/configs/text_bytes.yaml" --out "$out/run" --steps 20 \
  --set dataset.kwargs.path="$src/LICENSE" --set dataset.kwargs.context_length=32 \
  --set dataset.kwargs.block_size=1024 --set dataset.kwargs.validation_windows=8 \
  --set model.num_blocks=2 --set model.embedding_dim=32 --set training.batch_size=8 \
  --set training.lr_warmup_steps=5 --set training.lr_decay_until_steps=20 \
  --set training.val_every_step=10 >"$out/train.log" || fail "xlstm-train: $(cat "$out/train.log")"
grep -q "validation: loss" "$out/train.log" || fail "no validation loss in $(cat "$out/train.log")"

generate() { "$bin/xlstm-generate" --run "$out/run" "$@"; }

text=$(generate --prompt "Licensed under" --max-new-tokens 30 --seed 3 2>"$out/err")
[[ $text == "Licensed under"* ]] || fail "the output does not start with the prompt: $text"
grep -q "time to first token" "$out/err" || fail "no stats line: $(cat "$out/err")"
again=$(generate --prompt "Licensed under" --max-new-tokens 30 --seed 3 2>/dev/null)
[[ $text == "$again" ]] || fail "the same seed gave other text"

ids=$(generate --prompt-ids "76 105 99" --max-new-tokens 10 --num-samples 3 --temperature 0 \
  2>/dev/null)
[[ $(wc -l <<<"$ids") -eq 3 ]] || fail "expected 3 lines of ids, got: $ids"
while read -r line; do
  [[ $(wc -w <<<"$line") -eq 10 ]] || fail "expected 10 ids in '$line'"
  [[ $line == "$(head -1 <<<"$ids")" ]] || fail "greedy samples differ: $ids"
done <<<"$ids"

turns=$(printf 'Copyright\nthe License\n' |
  generate --interactive --max-new-tokens 8 --temperature 0 2>"$out/err")
[[ $(grep -c "time to first token" "$out/err") -eq 2 ]] || fail "expected 2 turns: $(cat "$out/err")"
[[ -n $turns ]] || fail "interactive mode printed nothing"

if generate --prompt-ids "1 x" 2>"$out/err"; then fail "a bad --prompt-ids was accepted"; fi
grep -q -- "--prompt-ids: 'x'" "$out/err" || fail "unexpected message: $(cat "$out/err")"

# Ctrl-C once generation runs: the run ends cleanly (stats printed) with exit code 130 (token ids:
# no <eos> ends it before).
"$bin/xlstm-generate" --run "$out/run" --prompt-ids "76 105" --max-new-tokens 100000000 \
  >"$out/long" 2>"$out/err" &
pid=$!
for _ in $(seq 600); do [[ -s $out/long ]] && break; sleep 0.1; done
[[ -s $out/long ]] || fail "no output within a minute"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[[ $rc -eq 130 ]] || fail "exit code $rc after Ctrl-C, expected 130: $(cat "$out/err")"
grep -q "time to first token" "$out/err" || fail "no stats after Ctrl-C: $(cat "$out/err")"
echo "ok: $(wc -c <"$out/long") bytes before Ctrl-C"
