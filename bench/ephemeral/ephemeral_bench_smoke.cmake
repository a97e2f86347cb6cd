# ctest's ephemeral_bench_smoke: runs each ephemeral_bench mode briefly on a private
# server and fails unless each exits 0 and prints its figure (non-zero).
#   cmake -DEPHEMERAL_BENCH=build/bench/ephemeral_bench -P bench/ephemeral/ephemeral_bench_smoke.cmake
set(positive "([1-9][0-9]*(\\.[0-9]+)?|0\\.[0-9]*[1-9][0-9]*)")

function(smoke pattern)
  execute_process(COMMAND ${EPHEMERAL_BENCH} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
  message("${out}${err}")
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "ephemeral_bench ${ARGN} exited with ${code}")
  endif()
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "ephemeral_bench ${ARGN} printed no figure matching ${pattern}")
  endif()
endfunction()

smoke("RESULT ops=${positive}" kv --op get --clients 2 --seconds 1 --keys 1000)
smoke("RESULT ops=${positive}" kv --op mget --clients 2 --seconds 1 --keys 1000 --batch 10)
smoke("RESULT ops=${positive}" ratelimit --clients 2 --seconds 1)
smoke("RESULT evaluations=${positive}" flags --seconds 1)
