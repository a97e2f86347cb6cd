# ctest's observe_bench_smoke: a small run (50 tables, 200 statements, no anchor) must
# print its figures.
#   cmake -DOBSERVE_BENCH=build/bench/observe_bench -P bench/observe/observe_bench_smoke.cmake
include(${CMAKE_CURRENT_LIST_DIR}/../bench_smoke.cmake)

bench_smoke(${OBSERVE_BENCH} "RESULT scrape_ms=${positive} doctor_ms=${positive}"
            --tables 50 --statements 200 --runs 2 --no-exporter)
