#!/bin/sh
# run.sh: run every benchmark of bench/, one after the other.
#
#	sh bench/run.sh [--smoke]
#
# A benchmark is an executable file of this folder other than this script
# (catchup, ingest, latency, outputs, tail, ...). --smoke is passed
# through: each then takes seconds, as `make check` wants. The figures are
# printed, never judged here: the exit status is non-zero only when a
# benchmark failed to run.
#
# FERRY_BIN and BENCH_BIN say where the built programs are (`make bench-smoke`
# sets both); they default to build/bin and build/bench.

here=$(cd "$(dirname "$0")" && pwd)
: "${FERRY_BIN:=$here/../build/bin}"
: "${BENCH_BIN:=$here/../build/bench}"
export FERRY_BIN BENCH_BIN

case "$1" in
"" | --smoke) ;;
*)
	echo "usage: sh bench/run.sh [--smoke]" >&2
	exit 2
	;;
esac

failed=""
for b in "$here"/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	name=$(basename "$b")
	[ "$name" = run.sh ] && continue
	echo "== bench/$name $*"
	"$b" "$@" || failed="$failed $name"
done
if [ -n "$failed" ]; then
	echo "bench: failed to run:$failed" >&2
	exit 1
fi
exit 0
