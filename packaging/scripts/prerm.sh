# deb prerm: remove stops the watcher and runs `dlr disable` while
# /usr/bin/dlr is still there. An upgrade, deconfigure or failed upgrade
# undoes nothing (the new postinst restarts the watcher).
case "$1" in
remove)
	watcher_ctl stop
	# Without deb-systemd-helper the links go now, while the unit file is
	# there; with it, postrm removes them.
	from_dpkg || watcher_disable
	do_disable || true
	;;
upgrade | deconfigure | failed-upgrade) ;;
*)
	say "prerm called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
