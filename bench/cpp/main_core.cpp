// pysyncq_bench: our queue (three wait policies) against the floors of this machine:
// bare futex and busy-spin ping-pong, pipes, a spin ring for fanout, memcpy bandwidth.
// Prints one JSON line per result on stdout, progress on stderr.
//
//   pysyncq_bench [--quick] [--only=NAME] [--no-pin]
#include "harness.hpp"
#include "peer_floors.hpp"
#include "peer_pysyncq.hpp"

int main(int argc, char **argv) {
  const bench::Options options = bench::parse_options(argc, argv);
  std::fprintf(stderr, "pysyncq_bench: %d CPUs, %s, %s run\n", options.cpus,
               options.pin ? "parent/writer pinned to CPU 0, child/readers from CPU 1 on"
                           : "not pinned",
               options.quick ? "quick" : "full");
  bench::bench_memcpy(options);
  for (const std::size_t size : options.latency_sizes()) {
    bench::bench_floors_at(options, size);
    bench::bench_pysyncq_at(options, size);
  }
  bench::bench_spin_ring_fanout(options);
  bench::bench_pysyncq_fanout(options);
  return 0;
}
