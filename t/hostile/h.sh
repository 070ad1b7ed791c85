# t/hostile/h.sh - helpers for the shell cases of the hostile suite.
#
# Copyright (C) 2026 the lem authors.  Part of lem, free software under
# the GNU General Public License version 3 or later; see COPYING.
#
# . "$HOSTILE_DIR/h.sh"; lemrun 'lua code' [args]  -> $out $err $rc
# ok COND-STATUS DESC; like TEXT ERE DESC; unlike TEXT ERE DESC; finish
n=0 # check counter
nfail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lem-hcase.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
scale=${HOSTILE_SCALE:-1}

ok() {         # ok STATUS DESC: STATUS 0 is a pass
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n - $2"
	else
		nfail=$((nfail + 1))
		echo "not ok $n - $2"
		[ -z "${3:-}" ] || printf '%s\n' "$3" | cut -c1-200 | sed 's/^/# /' | head -n 20
	fi
}
is() {         # is GOT WANT DESC
	[ "$1" = "$2" ]; ok $? "$3" "got: $1, want: $2"
}
like() {       # like TEXT ERE DESC
	printf '%s' "$1" | grep -Eq -- "$2"; ok $? "$3" "got: $1
want match: $2"
}
unlike() {     # unlike TEXT ERE DESC
	! printf '%s' "$1" | grep -Eq -- "$2"; ok $? "$3" "got: $1
want no match: $2"
}
# lemrun SCRIPT [ARGS...]: run a Lua script in a new lem; sets out, err, rc
lemrun() {
	local f=$tmp/s$n.lua
	printf '%s\n' "$1" > "$f"
	shift
	"$LEM" "$f" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}
nosan() {      # nosan DESC: the last stderr has no sanitizer report
	unlike "$err" 'Sanitizer|runtime error|Segmentation|==[0-9]+== ' "$1: no sanitizer report"
}
finish() {
	if [ "$nfail" -gt 0 ]; then
		echo "# $nfail of $n checks failed"
		exit 1
	fi
	echo "HOSTILE CLEAN $n checks"
	exit 0
}
