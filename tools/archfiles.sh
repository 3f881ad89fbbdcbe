#!/bin/sh
#
# archfiles: ARCHITECTURE.md's table of files ("Which file does what")
# names every C file of the tree, and every C file it names exists, so the
# table stays the map of the code (`make lint` runs it).
#
# A file is named when its path stands in backquotes in a row of the
# table (`common/spool.c`), or when the row of its folder (a row whose
# first cell is `dir/`) names it (`spool.c`) or a pattern it fits
# (`test_NAME.c`). Exit 0 when every file is named, 1 otherwise, with a
# line for each file that is not.

cd "$(dirname "$0")/.." || exit 1
doc=ARCHITECTURE.md
# The table's rows: from its heading to the next one.
rows=$(sed -n '/^## Which file does what/,/^## /p' "$doc" | grep '^|')
# The files git has or would add; outside git (a tarball), what is there.
files=$(git ls-files --cached --others --exclude-standard '*.c' 2>/dev/null)
if [ -z "$files" ]; then
	files=$(find . -name '*.c' ! -path './build*' ! -path './.*' |
	    sed 's|^\./||' | sort)
fi
bad=0
for f in $files; do
	printf '%s\n' "$rows" | grep -qF "\`$f\`" && continue
	dir=${f%/*}/
	base=${f##*/}
	row=$(printf '%s\n' "$rows" | grep -F "| \`$dir\` |")
	if [ -n "$row" ]; then
		printf '%s\n' "$row" | grep -qF "\`$base\`" && continue
		for pat in $(printf '%s\n' "$row" | grep -o '`[a-z_]*NAME\.c`' |
		    tr -d '`'); do
			case $base in
			"${pat%NAME.c}"*.c) continue 2 ;;
			esac
		done
	fi
	echo "$doc's table does not name $f (its path, or its name in the row of $dir)"
	bad=1
done
for f in $(printf '%s\n' "$rows" | grep -o '`[a-z0-9_/]*/[a-z0-9_]*\.c`' |
    tr -d '`' | sort -u); do
	[ -f "$f" ] && continue
	echo "$doc's table names $f, which does not exist"
	bad=1
done
exit $bad
