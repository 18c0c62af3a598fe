// Shared memory alone: attaching by name, and refusing what is not a queue (EEXIST and
// ENOENT, which every backend has, are in tests/contract).
#include "support/processes.hpp"

#include "core/layout.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace std::chrono_literals;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::spawn_child;
using pysyncq::testing::NameGuard;
using pysyncq::testing::unique_name;

namespace {
void write_segment(const std::string &name, const std::string &bytes) {
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}
} // namespace

TEST(Attach, an_unrelated_process_attaches_by_name_alone) {
  NameGuard name(unique_name("byname"));
  Child creator = spawn_child(
      [](const std::string &queue_name) {
        Queue queue = Queue::create(queue_name, {.capacity_bytes = 8192});
        return 0; // exits without closing: the queue stays, nobody inherited anything
      },
      name.name());
  ASSERT_EQ(creator.wait(), 0);
  Queue queue = Queue::attach(name.name());
  EXPECT_EQ(queue.capacity_bytes(), 8192U);
  queue.open("stranger");
  queue.append("t", "b");
  EXPECT_EQ(queue.pop()->body, "b");
  queue.close();
  EXPECT_FALSE(name.exists());
}

TEST(Attach, a_foreign_segment_is_refused) {
  NameGuard name(unique_name("foreign"));
  write_segment(name.name(), std::string(8192, 'z'));
  EXPECT_THROW((void)Queue::attach(name.name()), pysyncq::NotAQueue);
}

TEST(Attach, a_segment_smaller_than_a_header_is_refused) {
  NameGuard name(unique_name("tiny"));
  write_segment(name.name(), std::string(10, '\0'));
  EXPECT_THROW((void)Queue::attach(name.name()), pysyncq::NotAQueue);
}

TEST(Attach, a_queue_of_another_layout_version_is_refused_with_both_versions_named) {
  NameGuard name(unique_name("version"));
  { Queue queue = Queue::create(name.name()); }
  const int fd = ::shm_open(("/" + name.name()).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  const std::uint32_t other_version = pysyncq::core::kLayoutVersion + 1;
  ASSERT_EQ(::pwrite(fd, &other_version, sizeof other_version, 8), 4);
  ::close(fd);
  try {
    (void)Queue::attach(name.name());
    FAIL();
  } catch (const pysyncq::LayoutMismatch &error) {
    const std::string ours = "layout " + std::to_string(pysyncq::core::kLayoutVersion);
    const std::string theirs = "layout " + std::to_string(other_version);
    EXPECT_NE(std::string(error.what()).find(ours), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find(theirs), std::string::npos) << error.what();
  }
}

TEST(Attach, a_queue_whose_geometry_was_tampered_with_is_refused) {
  NameGuard name(unique_name("geometry"));
  { Queue queue = Queue::create(name.name()); }
  const int fd = ::shm_open(("/" + name.name()).c_str(), O_RDWR, 0);
  ASSERT_GE(fd, 0);
  const std::uint64_t capacity = 1ULL << 30; // larger than the file
  ASSERT_EQ(::pwrite(fd, &capacity, sizeof capacity, 16), 8);
  ::close(fd);
  EXPECT_THROW((void)Queue::attach(name.name()), pysyncq::NotAQueue);
}

TEST(Attach, bad_names_and_sizes_get_invalid_argument) {
  EXPECT_THROW((void)Queue::create(""), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create("a/b"), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(std::string("a\0b", 3)), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(std::string(300, 'n')), pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(unique_name("small"), {.capacity_bytes = 8}),
               pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(unique_name("members"), {.max_members = 0}),
               pysyncq::InvalidArgument);
  EXPECT_THROW((void)Queue::create(unique_name("big"), {.capacity_bytes = 1ULL << 50}),
               pysyncq::InvalidArgument);
}

TEST(Attach, list_queues_names_queues_and_skips_other_segments) {
  NameGuard queue_name(unique_name("listed"));
  NameGuard other_name(unique_name("other"));
  Queue queue = Queue::create(queue_name.name());
  write_segment(other_name.name(), std::string(4096, 'q'));
  const auto names = pysyncq::list_queues();
  EXPECT_NE(std::find(names.begin(), names.end(), queue_name.name()), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), other_name.name()), names.end());
  queue.close();
}
