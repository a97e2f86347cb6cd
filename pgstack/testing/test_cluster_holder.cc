// Helper for testing_test: starts the shared TestCluster, prints its folder and
// postmaster pid, then sleeps until killed — or, given --exit, returns from main so the
// normal-exit cleanup runs.
#include <chrono>
#include <cstring>
#include <iostream>
#include <thread>

#include "pgstack/testing/test_cluster.h"

int main(int argc, char** argv) {
  try {
    auto& cluster = pgstack::testing::TestCluster::shared();
    std::cout << "root " << cluster.root_dir() << "\n"
              << "postmaster " << cluster.postmaster_pid() << std::endl;
    if (argc > 1 && std::strcmp(argv[1], "--exit") == 0) return 0;
    std::this_thread::sleep_for(std::chrono::minutes(10));
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "test_cluster_holder: " << e.what() << std::endl;
    return 1;
  }
}
