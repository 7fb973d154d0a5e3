# rpm %preun: $1 is 0 on erase, 1 or more when this is the OLD package of an
# upgrade (run after the new package's %post): then nothing is undone.
if [ "${1:-0}" = 0 ]; then
	watcher_ctl stop
	watcher_disable
	# rpm has no purge: once `dlr disable` has put everything back, dlr's
	# state goes too. If it failed, the state stays for a later
	# `dlr disable`.
	if do_disable; then
		purge_state
	fi
fi
exit 0
