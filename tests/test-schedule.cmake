# Read by ctest after the discovered tests, for ctest -j2. The longest tests
# (mostly waiting: a minute of rounds) start first, so that none is left to
# run alone at the end. The 100k-connection listener test loads the machine
# enough to upset the timing of tests beside it, so it runs alone.
set_tests_properties(
  "end to end: 60 rounds, carbon-cache SIGKILLed 3 times, every round stored (replay)"
  "tls: carbon-c-relay SIGKILLed 3 times in 60 rounds: with replay_seconds none is lost"
  "end to end: carbon-cache restarted with SIGTERM 3 times, every round stored"
  PROPERTIES COST 1000)
set_tests_properties(
  "outage queue: SIGKILL at 20 random points of an outage, every line fed a sync interval before a kill arrives"
  "outage queue: with carbon healthy, nothing is written to disk and nothing is synced"
  PROPERTIES COST 500)
set_tests_properties(
  "listen: 100k hostile connections, NUL bytes, a 1 MB line, half lines: valid lines all arrive"
  PROPERTIES RUN_SERIAL TRUE)
