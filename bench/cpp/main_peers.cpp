// One binary per optional peer (ZeroMQ, Boost.Interprocess, iceoryx), so that a peer
// missing on this machine only drops its own binary. PEER_HEADER and PEER_FUNCTION come
// from bench/CMakeLists.txt.
//
//   pysyncq_bench_<peer> [--quick] [--only=NAME] [--no-pin]
#include "harness.hpp"

#include PEER_HEADER

int main(int argc, char **argv) {
  const bench::Options options = bench::parse_options(argc, argv);
  std::fprintf(stderr, "%s: %d CPUs, %s, %s run\n", argv[0], options.cpus,
               options.pin ? "parent/writer pinned to CPU 0, child/readers from CPU 1 on"
                           : "not pinned",
               options.quick ? "quick" : "full");
  try {
    bench::PEER_FUNCTION(options);
  } catch (const std::exception &error) {
    std::fprintf(stderr, "%s: %s\n", argv[0], error.what());
    return 1;
  }
  return 0;
}
