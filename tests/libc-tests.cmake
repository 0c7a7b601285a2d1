# Read by ctest after the discovered tests. The system tests labelled libc
# are the ones that exercise the C library's side of sockpush: the kernel
# collectors (netlink, /proc), resolving and connecting, signals, fork and
# exec, syslog, reloads, and what `send` forwards. The static musl x86-64
# build (preset linux-x86_64-musl) runs these natively; every other build
# runs them with the rest. The README lists them.
set(libc_tests
  "kernel: ephemeral ports per destination, per-port states, UDP, sockstat, counters, settings"
  "kernel: netstat rates come from the second round on, by counter name"
  "kernel: conntrack fill and per-state entries from a namespace with tracking on"
  "kernel: 10,500 TIME_WAIT and 300 ESTABLISHED sockets counted like sockstat and ss"
  "kernel: listen queues match ss -ltn, through sock_diag and /proc, full and drained"
  "kernel: states per remote subnet equal an oracle over ss -tan, IPv4, IPv6 and mapped"
  "end to end: 60 rounds, carbon-cache SIGKILLed 3 times, every round stored (replay)"
  "listen: tcp, udp, unix and bash's /dev/udp lines share the one carbon connection"
  "listen: max_clients refuses the extra client, idle clients are closed, a half line left at an idle close or at our stop is refused"
  "listen: a non-loopback address needs allow_remote, a taken port fails the start"
  "exec: job lines get the round's timestamp and the prefix, stderr is logged, no inherited sockets, SIGPIPE at default"
  "exec: an overrunning job is killed with its children, runs never overlap, a missing program is a counted failure"
  "daemon: lines undelivered at SIGTERM go to the outage queue and are sent at the next start"
  "daemon: SIGTERM with a write blocked on a carbon that never reads: out by shutdown_timeout"
  "send: SIGINT to a send stuck on carbon ends the input, a second SIGINT ends it at once"
  "SIGHUP: a valid new config replaces the old over a new connection, an invalid one is refused and the old one keeps running"
  "SIGHUP while carbon is unreachable: the old configuration's rounds go to the new one"
  "log.target = syslog: messages reach /dev/log"
  "systemd notify: READY=1 after the first round, WATCHDOG=1 pings, STOPPING=1 on SIGTERM"
  "send: every build forwards and refuses the same lines, byte for byte")
set_tests_properties(${libc_tests} PROPERTIES LABELS "system;libc")
