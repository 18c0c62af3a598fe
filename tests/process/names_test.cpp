// Queue names on every platform: a name of up to 254 bytes works end to end even where
// the OS takes only 30 (macOS, the portable build: the segment is named by a hash), and a
// segment whose header holds another queue's name is refused.
#include "support/processes.hpp"

#include "core/layout.hpp"
#include "platform/shm.hpp"

#include <pysyncq/errors.hpp>
#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::spawn_child;
using pysyncq::testing::unique_name;
namespace platform = pysyncq::platform;

namespace {

// A unique name of exactly `bytes` bytes, starting like every test name.
std::string long_name(std::size_t bytes) {
  std::string name = unique_name("") + "-";
  name.resize(bytes, 'L');
  return name;
}

// Unlinks the segment of NAME, wherever the platform put it, at scope exit.
class SegmentGuard {
public:
  explicit SegmentGuard(std::string name) : path_(platform::shm_path_for(name)) {}
  SegmentGuard(const SegmentGuard &) = delete;
  SegmentGuard &operator=(const SegmentGuard &) = delete;
  ~SegmentGuard() { ::shm_unlink(path_.c_str()); }
  bool exists() const {
    const int fd = ::shm_open(path_.c_str(), O_RDONLY, 0);
    if (fd >= 0) {
      ::close(fd);
    }
    return fd >= 0;
  }
  const std::string &path() const noexcept { return path_; }

private:
  std::string path_;
};

} // namespace

TEST(Names, a_name_of_254_bytes_works_between_processes_and_is_listed_in_full) {
  const std::string name = long_name(platform::kMaxQueueNameBytes);
  SegmentGuard segment(name);
  Queue queue = Queue::create(name);
  queue.open("parent");
  Child child = spawn_child(
      [](const std::string &name) {
        Queue attached = Queue::attach(name);
        attached.open("child");
        attached.append("t", "from the child");
        attached.close();
        return 0;
      },
      name);
  ASSERT_EQ(child.wait(), 0);
  const auto message = queue.pop();
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->body, "from the child");
  const auto names = pysyncq::list_queues();
  EXPECT_NE(std::find(names.begin(), names.end(), name), names.end())
      << "the listing names the queue by its full name";
  queue.close();
  EXPECT_FALSE(segment.exists()) << "the last close removed " << segment.path();
}

TEST(Names, a_long_name_segment_is_named_within_the_os_limit_where_there_is_one) {
  const std::string name = long_name(200);
  const std::string path = platform::shm_path_for(name);
  if (path == "/" + name) {
    GTEST_SKIP() << "this platform takes long segment names as they are";
  }
  EXPECT_LE(path.size() - 1, platform::kMaxShmNameBytes);
  EXPECT_EQ(path.substr(1, platform::kHashedNamePrefixBytes),
            name.substr(0, platform::kHashedNamePrefixBytes))
      << "the prefix stays, so the test runner's leak check sees it";
  EXPECT_EQ(platform::shm_path_for(name), path) << "the same name, the same segment";
  EXPECT_NE(platform::shm_path_for(name + "x"), path);
}

TEST(Names, a_segment_whose_header_holds_another_queues_name_is_refused) {
  const std::string name = unique_name("named");
  SegmentGuard segment(name);
  Queue queue = Queue::create(name);
  {
    // As two long names with one hash would meet: the file of NAME holds "other".
    const int fd = ::shm_open(segment.path().c_str(), O_RDWR, 0);
    ASSERT_GE(fd, 0);
    char field[pysyncq::core::kQueueNameBytes] = "other";
    ASSERT_EQ(::pwrite(fd, field, sizeof field, offsetof(pysyncq::core::SegmentHeader, queue_name)),
              static_cast<ssize_t>(sizeof field));
    ::close(fd);
  }
  try {
    (void)Queue::attach(name);
    FAIL() << "attached to a segment holding another queue";
  } catch (const pysyncq::NotAQueue &error) {
    EXPECT_NE(std::string(error.what()).find("'other'"), std::string::npos) << error.what();
  }
}
