# ctest's jobs_bench_smoke: runs each jobs_bench mode briefly on a private server and
# fails unless each exits 0 and prints its figure (non-zero).
#   cmake -DJOBS_BENCH=build/bench/jobs_bench -P bench/jobs/jobs_bench_smoke.cmake
set(positive "([1-9][0-9]*(\\.[0-9]+)?|0\\.[0-9]*[1-9][0-9]*)")

function(smoke pattern)
  execute_process(COMMAND ${JOBS_BENCH} ${ARGN} OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE code)
  message("${out}${err}")
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "jobs_bench ${ARGN} exited with ${code}")
  endif()
  if(NOT out MATCHES "${pattern}")
    message(FATAL_ERROR "jobs_bench ${ARGN} printed no figure matching ${pattern}")
  endif()
endfunction()

smoke("RESULT pgstack_burndown_jobs_per_s=${positive}" burndown --jobs 5000 --workers 2 --batch 100)
smoke("RESULT pgstack_latency_p50_ms=${positive}" latency --jobs 20)
smoke("SAMPLE t=[0-9]+ completed_per_s=${positive}" sustained --rate 500 --seconds 6 --sample 2)
