# deb postrm: remove and purge remove the watcher's enablement links (its
# unit file is gone by now); purge also removes dlr's state, and dpkg itself
# the settings conffile. `dlr disable` ran in prerm.
case "$1" in
remove)
	watcher_forget
	systemd_reload
	;;
purge)
	watcher_forget
	systemd_reload
	purge_state
	rm -f "${DPKG_ROOT-}$DLR_SETTINGS".dpkg-* "${DPKG_ROOT-}$DLR_SETTINGS".ucf-*
	rmdir "${DPKG_ROOT-}/etc/docker-liverestore" 2>/dev/null || true
	;;
upgrade | failed-upgrade | abort-install | abort-upgrade | disappear) ;;
*)
	say "postrm called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
