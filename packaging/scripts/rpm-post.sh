# rpm %post: $1 is 1 on install and 2 or more on upgrade; both run
# `dlr enable` (a no-op where nothing needs to change). An install enables
# and starts the watcher; an upgrade keeps its enablement (the admin's) and
# restarts it, so that the new dlr runs. The watcher goes first: `dlr
# enable` then finds every part in place.
systemd_reload
if [ "${1:-1}" -ge 2 ] 2>/dev/null; then
	watcher_ctl restart
	do_enable upgrade
else
	watcher_install install
	do_enable install
fi
exit 0
