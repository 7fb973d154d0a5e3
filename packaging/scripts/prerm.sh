# deb prerm: remove runs `dlr disable` while /usr/bin/dlr is still there.
# An upgrade, deconfigure or failed upgrade undoes nothing.
case "$1" in
remove)
	do_disable || true
	;;
upgrade | deconfigure | failed-upgrade) ;;
*)
	say "prerm called with unknown argument '$1'; doing nothing"
	;;
esac
exit 0
