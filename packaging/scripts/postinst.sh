# deb postinst: configure enables and starts the watcher (on an upgrade:
# restarts it, so that the new dlr runs), then runs `dlr enable` on install
# ($2 empty), reinstall and upgrade ($2 = the version configured before).
case "$1" in
configure | reconfigure)
	# systemd learns of a new or changed watcher unit and the drop-in
	# first; the watcher runs before `dlr enable`, which then finds every
	# part in place (and records it: later runs need no D-Bus).
	systemd_reload
	if [ -z "${2-}" ]; then
		watcher_install install
		do_enable install
	else
		watcher_install upgrade
		do_enable "upgrade from $2"
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
