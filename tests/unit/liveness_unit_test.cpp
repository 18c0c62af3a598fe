// Liveness: pid plus start time tells a live member from a dead one and from pid reuse.
#include "platform/liveness.hpp"

#include <gtest/gtest.h>

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#endif

using pysyncq::platform::current_process;
using pysyncq::platform::is_alive;

TEST(Liveness, this_process_is_alive) { EXPECT_TRUE(is_alive(current_process())); }

TEST(Liveness, a_live_pid_with_another_start_time_is_a_reused_pid_and_counts_as_dead) {
  auto self = current_process();
  self.start_time += 1;
  EXPECT_FALSE(is_alive(self));
}

#ifndef _WIN32 // no zombies: tests/crash (TerminateProcess'd members) cover Windows
TEST(Liveness, an_exited_process_is_dead_even_as_a_zombie) {
  const pid_t child = ::fork();
  if (child == 0) {
    ::_exit(0);
  }
  siginfo_t info{};
  // WNOWAIT: wait until it has exited but leave it a zombie.
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(is_alive({child, 0}));
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_FALSE(is_alive({child, 0}));
}
#endif

TEST(Liveness, non_positive_pids_are_never_alive) {
  EXPECT_FALSE(is_alive({0, 0}));
  EXPECT_FALSE(is_alive({-1, 0}));
}
