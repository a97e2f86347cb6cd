# ctest's ephemeral_bench_smoke: runs each ephemeral_bench mode briefly on a private
# server and fails unless each exits 0 and prints its figure (non-zero).
#   cmake -DEPHEMERAL_BENCH=build/bench/ephemeral_bench -P bench/ephemeral/ephemeral_bench_smoke.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../bench_smoke.cmake)

bench_smoke(${EPHEMERAL_BENCH} "RESULT ops=${positive}" kv --op get --clients 2 --seconds 1 --keys 1000)
bench_smoke(${EPHEMERAL_BENCH} "RESULT ops=${positive}" kv --op set --async --clients 4 --seconds 1 --keys 1000)
bench_smoke(${EPHEMERAL_BENCH} "RESULT ops=${positive}" kv --op mget --clients 2 --seconds 1 --keys 1000 --batch 10)
bench_smoke(${EPHEMERAL_BENCH} "RESULT ops=${positive}" ratelimit --clients 2 --seconds 1)
bench_smoke(${EPHEMERAL_BENCH} "RESULT evaluations=${positive}" flags --seconds 1)
