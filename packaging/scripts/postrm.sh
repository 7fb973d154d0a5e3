# deb postrm: purge removes dlr's state; dpkg itself removes the settings
# conffile. Nothing else undoes anything (`dlr disable` ran in prerm).
case "$1" in
purge)
	purge_state
	rm -f "${DPKG_ROOT-}$DLR_SETTINGS".dpkg-* "${DPKG_ROOT-}$DLR_SETTINGS".ucf-*
	rmdir "${DPKG_ROOT-}/etc/docker-liverestore" 2>/dev/null || true
	;;
remove | upgrade | failed-upgrade | abort-install | abort-upgrade | disappear) ;;
*)
	say "postrm called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
