package buffers

import _ "embed"

// WatcherUnit is the watcher's systemd unit as the packages install it
// (docker-liverestore.service, ExecStart=/usr/bin/dlr watch). A bare
// `dlr enable` installs a copy naming its own path instead.
//
//go:embed docker-liverestore.service
var WatcherUnit []byte
