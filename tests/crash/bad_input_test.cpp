// Bad input through every C++ entry point: a clear typed exception, no crash, and no
// damage (the queue works normally afterwards). Plus permissions: 0600 by default, and
// a user who may not read the segment gets SyscallError(EACCES).
#include "crash_helpers.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <limits>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

const std::vector<std::string> &bad_names() {
  static const std::vector<std::string> names = {
      "",
      "/",
      "a/b",
      "/a/b",
      std::string("a\0b", 3),
      std::string("\0", 1),
      std::string(255, 'x'),
      std::string(100000, 'y'),
      ".",
      "..",
  };
  return names;
}

// The message, for a failure report.
template <class Call> std::string error_of(Call &&call) {
  try {
    call();
  } catch (const std::exception &error) {
    return error.what();
  }
  return "(no exception)";
}

// A normal round trip still works on `queue` (open here): no damage was done.
void expect_undamaged(Queue &queue) {
  ASSERT_TRUE(queue.is_open());
  queue.append("ok", make_checked_body(1, 0, 50));
  const auto message = queue.pop();
  ASSERT_TRUE(message.has_value());
  EXPECT_TRUE(parse_checked_body(message->body).has_value());
  const Stats stats = queue.stats();
  EXPECT_EQ(stats.members, 1U);
  EXPECT_EQ(stats.dead_members, 0U);
  EXPECT_EQ(stats.used_bytes, 0U);
}

TEST(BadInput, InvalidNamesAreRefusedByCreateAttachAndUnlinkWithInvalidArgument) {
  for (const std::string &name : bad_names()) {
    SCOPED_TRACE("name of " + std::to_string(name.size()) + " bytes");
    EXPECT_THROW((void)Queue::create(name), InvalidArgument) << error_of([&] {
      (void)Queue::create(name);
    });
    EXPECT_THROW((void)Queue::attach(name), InvalidArgument);
    EXPECT_THROW(Queue::unlink(name), InvalidArgument);
  }
  // The longest name that is allowed works.
  NameGuard guard(std::string("pysyncq-test-") + std::string(254 - 13, 'n'));
  auto queue = Queue::create(guard.name());
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(BadInput, OutOfRangeSizesAndLimitsAreRefusedWithInvalidArgumentAndLeaveNothingBehind) {
  NameGuard guard(unique_name("sizes"));
  const std::vector<CreateOptions> bad = {
      {.capacity_bytes = 1},
      {.capacity_bytes = 63},
      {.capacity_bytes = (1ULL << 40) + 8},
      {.capacity_bytes = static_cast<std::uint64_t>(-1)}, // a negative size, converted
      {.capacity_bytes = 4096, .max_members = 0},
      {.capacity_bytes = 4096, .max_members = (1U << 16) + 1},
      {.capacity_bytes = 4096, .max_members = static_cast<std::uint32_t>(-1)},
      {.capacity_bytes = 4096, .mode = 01777},
  };
  for (const CreateOptions &options : bad) {
    SCOPED_TRACE("capacity " + std::to_string(options.capacity_bytes) + ", members " +
                 std::to_string(options.max_members) + ", mode " + std::to_string(options.mode));
    EXPECT_THROW((void)Queue::create(guard.name(), options), InvalidArgument);
    EXPECT_FALSE(guard.exists());
  }
}

TEST(BadInput, AnAttachToWhatIsNotAQueueIsRefusedAndLeavesTheFileAlone) {
  NameGuard missing(unique_name("missing"));
  try {
    (void)Queue::attach(missing.name());
    ADD_FAILURE() << "attached to nothing";
  } catch (const SyscallError &error) {
    EXPECT_EQ(error.error_number(), ENOENT);
  }

  NameGuard junk(unique_name("junk"));
  const int fd = ::shm_open(("/" + junk.name()).c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  std::string bytes(8192, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<char>(i * 131 + 7);
  }
  ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
  ::close(fd);
  EXPECT_THROW((void)Queue::attach(junk.name()), NotAQueue);
  EXPECT_THROW(Queue::unlink(junk.name()), NotAQueue);
  EXPECT_TRUE(junk.exists()) << "unlink removed a segment that is not a queue";

  // A queue of another layout version is refused as such.
  NameGuard other(unique_name("other-layout"));
  Queue::create(other.name(), {.capacity_bytes = 4096}).close();
  auto keep = Queue::create(other.name(), {.capacity_bytes = 4096});
  {
    const int fd2 = ::shm_open(("/" + other.name()).c_str(), O_RDWR, 0);
    ASSERT_GE(fd2, 0);
    const std::uint32_t version = 999;
    ASSERT_EQ(::pwrite(fd2, &version, sizeof version, 8), 4);
    ::close(fd2);
  }
  EXPECT_THROW((void)Queue::attach(other.name()), LayoutMismatch);
}

TEST(BadInput, OverLongAndOverSizedFieldsAreRefusedWithoutTouchingTheQueue) {
  NameGuard guard(unique_name("fields"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096});
  queue.open("me");
  // A body larger than the whole ring can never fit: QueueFull at once, even blocking.
  const std::string big(5000, 'b');
  EXPECT_THROW(queue.append("t", big), QueueFull);
  try {
    queue.append("t", big, Deadline::never());
    ADD_FAILURE() << "a message larger than the ring was accepted";
  } catch (const QueueFull &error) {
    EXPECT_GT(error.needed_bytes(), error.capacity_bytes());
    EXPECT_NE(std::string(error.what()).find("4096"), std::string::npos) << error.what();
  }
  EXPECT_FALSE(queue.try_append("t", big));
  EXPECT_THROW((void)queue.wait_for_space(4097, Deadline::never()), QueueFull);
  EXPECT_THROW((void)queue.wait_for_space(std::numeric_limits<std::uint64_t>::max(),
                                          Deadline::after(1s)),
               QueueFull);
  // Sizes no caller could allocate: refused from the size alone, the bytes never read.
  static const char tiny[1] = {'x'};
  const std::string_view huge_type(tiny, std::size_t{1} << 33);
  const std::string_view huge_body(tiny, std::size_t{1} << 62);
  EXPECT_THROW(queue.append(huge_type, "b"), InvalidArgument);
  EXPECT_THROW((void)queue.try_append(huge_type, "b"), InvalidArgument);
  EXPECT_THROW(queue.append("t", huge_body, Deadline::never()), QueueFull);
  EXPECT_FALSE(queue.try_append("t", huge_body));
  EXPECT_EQ(Queue::footprint(std::numeric_limits<std::size_t>::max(), 0, 0),
            std::numeric_limits<std::uint64_t>::max());
  // Opening twice in one process is refused; the registration stays.
  EXPECT_THROW(queue.open("again"), InvalidArgument);
  expect_undamaged(queue);
  queue.close();
}

TEST(BadInput, UseAfterCloseThrowsNotOpenAndCloseStaysIdempotent) {
  NameGuard guard(unique_name("after-close"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096});
  auto other = Queue::attach(guard.name());
  other.open("other"); // keeps the name alive while `queue` is closed
  queue.open("me");
  queue.close();
  EXPECT_FALSE(queue.is_open());
  EXPECT_THROW(queue.append("t", "b"), NotOpen);
  EXPECT_THROW((void)queue.try_append("t", "b"), NotOpen);
  EXPECT_THROW((void)queue.pop(), NotOpen);
  Message message;
  EXPECT_THROW((void)queue.pop_into(message, Deadline::after(1s)), NotOpen);
  EXPECT_THROW((void)queue.try_pop_visit([](const MessageView &) {}), NotOpen);
  EXPECT_THROW((void)queue.wait_for_message(Deadline::after(1s)), NotOpen);
  EXPECT_THROW((void)queue.wait_for_space(8, Deadline::after(1s)), NotOpen);
  EXPECT_NO_THROW(queue.close());
  EXPECT_NO_THROW(queue.close());
  EXPECT_NO_THROW((void)queue.stats()); // inspection needs no registration
  EXPECT_NO_THROW((void)queue.reap());
  EXPECT_TRUE(queue.sender().empty());
  // Reopening works, and the other member was not disturbed.
  queue.open("me-again");
  queue.append("t", make_checked_body(1, 0, 10));
  EXPECT_TRUE(other.pop().has_value());
  EXPECT_EQ(queue.stats().members, 2U);
  queue.close();
  other.close();
  EXPECT_FALSE(guard.exists());
}

TEST(BadInput, AHandleUsedInAForkedChildThatDidNotOpenThrowsNotOpenAndTheParentIsUnharmed) {
  NameGuard guard(unique_name("not-opened-here"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096});
  queue.open("parent");
  Child child([&] {
    int failures = 0;
    const auto expect_not_open = [&](auto &&call) {
      try {
        call();
        ++failures;
      } catch (const NotOpen &error) {
        if (std::string(error.what()).find("open") == std::string::npos) {
          ++failures;
        }
      }
    };
    expect_not_open([&] { queue.append("t", "from the child"); });
    expect_not_open([&] { (void)queue.try_append("t", "b"); });
    expect_not_open([&] { (void)queue.pop(); });
    expect_not_open([&] { (void)queue.wait_for_message(Deadline::after(10ms)); });
    expect_not_open([&] { (void)queue.wait_for_space(8, Deadline::after(10ms)); });
    if (queue.is_open()) {
      ++failures;
    }
    queue.close(); // the parent's registration is not the child's to end
    (void)queue.stats();
    return failures;
  });
  EXPECT_EQ(child.wait(), 0);
  EXPECT_TRUE(queue.is_open());
  expect_undamaged(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

TEST(Permissions, ASegmentIsOwnerOnlyByDefault) {
  NameGuard guard(unique_name("mode"));
  const mode_t old_mask = ::umask(0);
  auto queue = Queue::create(guard.name());
  ::umask(old_mask);
  struct stat info {};
  ASSERT_EQ(::stat(("/dev/shm/" + guard.name()).c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600U);
  queue.close();
}

TEST(Permissions, AUserWhoMayNotReadTheSegmentGetsSyscallErrorEacces) {
  if (::geteuid() != 0) {
    GTEST_SKIP() << "needs root to create as one user and attach as another";
  }
  const passwd *nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  NameGuard guard(unique_name("eacces"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096, .mode = 0600});
  queue.open("root");
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  Child stranger([&] {
    if (::setgid(gid) != 0 || ::setuid(uid) != 0) {
      return 3;
    }
    try {
      (void)Queue::attach(guard.name());
      return 4;
    } catch (const SyscallError &error) {
      return error.error_number() == EACCES ? 0 : 5;
    }
    // Any other exception: the Child helper reports it and exits 99.
  });
  EXPECT_EQ(stranger.wait(), 0);
  expect_undamaged(queue);
  queue.close();
  EXPECT_FALSE(guard.exists());
}

} // namespace
} // namespace pysyncq::testing
