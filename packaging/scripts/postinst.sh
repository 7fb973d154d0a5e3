# deb postinst: configure runs `dlr enable` on install ($2 empty), reinstall
# and upgrade ($2 = the version configured before), then enables and starts
# the watcher (on an upgrade: restarts it, so that the new dlr runs).
case "$1" in
configure | reconfigure)
	# systemd learns of a new or changed watcher unit first (`dlr enable`
	# may start it).
	systemd_reload
	if [ -z "${2-}" ]; then
		do_enable install
		watcher_install install
	else
		do_enable "upgrade from $2"
		watcher_install upgrade
	fi
	;;
abort-remove)
	# A failed (strict) `dlr disable` has already put everything back; the
	# prerm stopped the watcher before it: start it again (if enabled).
	watcher_ctl start
	;;
abort-upgrade | abort-deconfigure)
	# Our prerm undid nothing on upgrade or deconfigure.
	;;
triggered) ;;
*)
	say "postinst called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
