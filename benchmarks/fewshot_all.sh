#!/usr/bin/env bash
# The few-label protocol on the five datasets of the VAMPIRE issue; one JSON per dataset in $OUT.
#   bash benchmarks/fewshot_all.sh ../shared/data docs/results
# MiniLM is skipped on imdb (25k long test reviews take longer to embed on 2 cores than the rest of the run).
set -euo pipefail
DATA=${1:-../shared/data}
OUT=${2:-docs/results}
N=${N:-200 500}
mkdir -p "$OUT"
ALL="vampire_glove vampire_vectors vampire vectors no_pretraining tfidf_lr glove_lr minilm_lr"
run() {  # dataset, clean-up, methods
    shoestring bench fewshot --data "$DATA/$1" --labels $N --seeds 0 1 2 3 4 --clean $2 --methods $3 \
        --workdir bench-work --json "$OUT/fewshot_$1.json" --markdown "$OUT/fewshot_$1.md"
}
run ag_news html "$ALL"
run chemprot "" "$ALL"
run tweeteval_hate "" "$ALL"
run 20newsgroups email "$ALL"
run imdb html "${ALL% minilm_lr}"
