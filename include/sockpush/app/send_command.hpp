// `sockpush send [HOST[:PORT] | HOST PORT]`: the drop-in for `| nc graphite 2003`.
// stdin lines are validated and forwarded over one connection; at end of
// input everything is flushed and acknowledged before the exit.
#pragma once

namespace sockpush {

/// argv[0] is "send". Returns the process exit code: 0 delivered, 1 not
/// delivered within --timeout, 2 bad arguments.
int run_send_command(int argc, char** argv);

}  // namespace sockpush
