# ctest's driver_bench_smoke: runs driver_bench briefly (one 1-second run of each mode,
# scale 1) and fails unless it exits 0 and prints a RESULT line with every figure.
#   cmake -DDRIVER_BENCH=build/bench/driver_bench -P bench/driver_bench_smoke.cmake
execute_process(
  COMMAND ${DRIVER_BENCH} --clients 2 --runs 1 --seconds 1 --scale 1
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
message("${out}${err}")
if(NOT code EQUAL 0)
  message(FATAL_ERROR "driver_bench exited with ${code}")
endif()
set(number "[0-9]+(\\.[0-9]+)?")
set(figures "RESULT clients=2 runs=1 pgbench=${number} one_at_a_time=${number} pipelined=${number} ")
string(APPEND figures "one_at_a_time_vs_pgbench=${number} pipelined_vs_one_at_a_time=${number}")
if(NOT out MATCHES "${figures}")
  message(FATAL_ERROR "driver_bench printed no complete RESULT line")
endif()
foreach(mode "pgbench=0 " "one_at_a_time=0 " "pipelined=0 ")
  string(FIND "${out}" "${mode}" zero)
  if(NOT zero EQUAL -1)
    message(FATAL_ERROR "driver_bench measured nothing for ${mode}")
  endif()
endforeach()
