# Read by ctest after the discovered tests. These load the machine enough to
# upset the timing of tests beside them under ctest -j, so they run alone.
set_tests_properties(
  "listen: 100k hostile connections, NUL bytes, a 1 MB line, half lines: valid lines all arrive"
  PROPERTIES RUN_SERIAL TRUE)
