# Shared by the benchmarks' smoke scripts (ctest's *_bench_smoke): run a benchmark
# briefly and fail unless it exits 0 and prints a figure matching a pattern.
#   include(${CMAKE_CURRENT_LIST_DIR}/../bench_smoke.cmake)
#   bench_smoke(${JOBS_BENCH} "RESULT x=${positive}" burndown --jobs 5000)

# A number above zero.
set(positive "([1-9][0-9]*(\\.[0-9]+)?|0\\.[0-9]*[1-9][0-9]*)")

function(bench_smoke binary pattern)
  execute_process(COMMAND ${binary} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
  message("${out}${err}")
  get_filename_component(name ${binary} NAME)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${name} ${ARGN} exited with ${code}")
  endif()
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "${name} ${ARGN} printed no figure matching ${pattern}")
  endif()
endfunction()
