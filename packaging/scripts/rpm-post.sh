# rpm %post: $1 is 1 on install and 2 or more on upgrade; both run
# `dlr enable` (a no-op where nothing needs to change).
if [ "${1:-1}" -ge 2 ] 2>/dev/null; then
	do_enable upgrade
else
	do_enable install
fi
exit 0
