# ctest's jobs_bench_smoke: runs each jobs_bench mode briefly on a private server and
# fails unless each exits 0 and prints its figure (non-zero).
#   cmake -DJOBS_BENCH=build/bench/jobs_bench -P bench/jobs/jobs_bench_smoke.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../bench_smoke.cmake)

bench_smoke(${JOBS_BENCH} "RESULT pgstack_burndown_jobs_per_s=${positive}" burndown --jobs 5000 --workers 2 --batch 100)
bench_smoke(${JOBS_BENCH} "RESULT pgstack_latency_p50_ms=${positive}" latency --jobs 20)
bench_smoke(${JOBS_BENCH} "SAMPLE t=[0-9]+ completed_per_s=${positive}" sustained --rate 500 --seconds 6 --sample 2)
bench_smoke(${JOBS_BENCH} "RESULT pgstack_oltp_jobs_per_s=${positive}" produce --producers 4 --seconds 2)
bench_smoke(${JOBS_BENCH} "RESULT pgstack_paced_p99_ms=${positive}" paced --rate 50 --seconds 2)
