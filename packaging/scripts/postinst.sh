# deb postinst: configure runs `dlr enable` on install ($2 empty), reinstall
# and upgrade ($2 = the version configured before).
case "$1" in
configure | reconfigure)
	if [ -z "${2-}" ]; then
		do_enable install
	else
		do_enable "upgrade from $2"
	fi
	;;
abort-upgrade | abort-remove | abort-deconfigure)
	# Our prerm undid nothing that has to be redone: on upgrade it does
	# nothing, and a failed `dlr disable` has already put everything back.
	;;
triggered) ;;
*)
	say "postinst called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
