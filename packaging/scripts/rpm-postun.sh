# rpm %postun: $1 is 0 on erase (the files are gone by now): systemd reads
# its units again, so that docker.service no longer has the drop-in's hooks
# (/usr/bin/dlr is gone) and the watcher unit is forgotten. On an upgrade
# ($1 >= 1) the new package's %post has already done it.
if [ "${1:-0}" = 0 ]; then
	systemd_reload
fi
exit 0
