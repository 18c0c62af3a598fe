// A hostile local user, and other programs' files in /dev/shm (issue 15): each finding
// as a test with real processes. Listing never hangs or waits; a header rewritten after
// attach is refused, never a wild access; another user's segment is refused unless
// allowed; a refused unlink leaves the name to the last close; a held lock is reported,
// not waited on for ever; a slot taken over is reported as removed. docs/failures.md,
// "A hostile local user", names these tests.
#include "crash_helpers.hpp"

#include "platform/liveness.hpp"
#include "platform/robust_mutex.hpp"
#include "segment.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>

namespace pysyncq::testing {
namespace {

using namespace std::chrono_literals;

// A file in /dev/shm that is not a queue, removed at scope exit.
class ShmFile {
public:
  explicit ShmFile(std::string name) : name_(std::move(name)) {}
  ShmFile(const ShmFile &) = delete;
  ShmFile &operator=(const ShmFile &) = delete;
  ~ShmFile() { ::unlink(path().c_str()); }
  std::string path() const { return "/dev/shm/" + name_; }
  const std::string &name() const { return name_; }
  void write(const std::string &bytes) const {
    const int fd = ::open(path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }

private:
  std::string name_;
};

bool listed(const std::vector<std::string> &names, const std::string &name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

const SegmentInfo *find_segment(const std::vector<SegmentInfo> &segments,
                                const std::string &name) {
  for (const SegmentInfo &segment : segments) {
    if (segment.name == name) {
      return &segment;
    }
  }
  return nullptr;
}

TEST(Hostile, AFifoInDevShmNeitherHangsListingNorAttach) {
  ShmFile fifo(unique_name("fifo"));
  ASSERT_EQ(::mkfifo(fifo.path().c_str(), 0600), 0);
  NameGuard guard(unique_name("beside-fifo"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096});
  // In a child with a watchdog: before the fix the listing's open waited for a writer to
  // the FIFO for ever, and this child would be killed instead of exiting 0.
  Child lister([&] {
    const std::vector<std::string> names = list_queues();
    if (!listed(names, guard.name()) || listed(names, fifo.name())) {
      return 2;
    }
    const std::vector<SegmentInfo> segments = list_segments(); // outlives `seen`
    const SegmentInfo *seen = find_segment(segments, fifo.name());
    if (seen == nullptr || seen->kind != SegmentInfo::Kind::kOther) {
      return 3;
    }
    try {
      (void)Queue::attach(fifo.name());
      return 4;
    } catch (const NotAQueue &) {
      return 0;
    }
  }, 30s);
  EXPECT_EQ(lister.wait(), 0);
}

TEST(Hostile, AFileWithOnlyTheMagicIsListedAsInitialisingAndNeverWaitedOnWhenAsked) {
  ShmFile junk(unique_name("magic-only"));
  std::string bytes(4096, '\0');
  std::memcpy(bytes.data(), &core::kMagic, sizeof core::kMagic);
  junk.write(bytes);
  const std::vector<SegmentInfo> segments = list_segments();
  const SegmentInfo *seen = find_segment(segments, junk.name());
  ASSERT_NE(seen, nullptr);
  EXPECT_EQ(seen->kind, SegmentInfo::Kind::kInitialising);
  EXPECT_FALSE(listed(list_queues(), junk.name()));
  // A tool's attach does not wait for a creator (creator_timeout 0): NotAQueue at once.
  AttachOptions no_wait;
  no_wait.creator_timeout = 0ms;
  EXPECT_THROW((void)Queue::attach(junk.name(), no_wait), NotAQueue);
}

// Writes into the header of queue `name` through a plain mapping of this process's own
// (no validation: the header may already be rewritten), as a hostile process would.
template <class Change> void rewrite_header(const std::string &name, Change &&change) {
  const int fd = ::shm_open(("/" + name).c_str(), O_RDWR | O_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  struct stat info {};
  ASSERT_EQ(::fstat(fd, &info), 0);
  void *base = ::mmap(nullptr, static_cast<std::size_t>(info.st_size), PROT_READ | PROT_WRITE,
                      MAP_SHARED, fd, 0);
  ::close(fd);
  ASSERT_NE(base, MAP_FAILED);
  change(*static_cast<core::SegmentHeader *>(base));
  ::munmap(base, static_cast<std::size_t>(info.st_size));
}

TEST(Hostile, RaisingTheMemberLimitAfterAttachIsRefusedNotAWildAccess) {
  NameGuard guard(unique_name("grown-table"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096, .max_members = 4});
  queue.open("creator");
  Pipe opened;
  Pipe rewritten;
  // A member attached before the change: its close and a new open must refuse, not crash
  // (before the fix: SIGBUS or SIGSEGV in close and in open).
  Child member([&] {
    auto mine = Queue::attach(guard.name());
    mine.open("member");
    opened.send('o');
    if (!rewritten.expect('r')) {
      return 2;
    }
    try {
      mine.append("t", "after the change");
      return 3;
    } catch (const NotAQueue &) {
    }
    try {
      mine.close();
      return 4;
    } catch (const NotAQueue &) {
    }
    return 0;
  }, 30s);
  ASSERT_TRUE(opened.expect('o'));
  rewrite_header(guard.name(), [](core::SegmentHeader &header) {
    header.max_members = 1U << 16;
    header.slots_in_use.store(1U << 16);
  });
  rewritten.send('r');
  EXPECT_EQ(member.wait(), 0); // not -SIGBUS, not -SIGSEGV
  // A new attach sees a header that does not add up and refuses it.
  EXPECT_THROW((void)Queue::attach(guard.name()), NotAQueue);
  EXPECT_THROW(queue.append("t", "x"), NotAQueue);
  rewrite_header(guard.name(), [](core::SegmentHeader &header) { header.max_members = 4; });
  queue.close(); // the header is whole again: the last close removes the name
  EXPECT_FALSE(guard.exists());
}

TEST(Hostile, ChangingTheCapacityAfterAttachStopsWritersFromOverwritingUnreadMessages) {
  NameGuard guard(unique_name("grown-ring"));
  auto writer = Queue::create(guard.name(), {.capacity_bytes = 256});
  writer.open("writer");
  auto reader = Queue::attach(guard.name());
  reader.open("reader");
  while (writer.try_append("t", "unread")) {
  }
  while (writer.pop()) { // the writer has read its own; the reader has not
  }
  rewrite_header(guard.name(), [](core::SegmentHeader &header) { header.capacity_bytes *= 4; });
  // Before the fix the cursor check used the header's capacity, so the reader's cursor
  // looked in range of a larger ring and writers overwrote what it had not read.
  EXPECT_THROW((void)writer.try_append("t", "overwrite"), NotAQueue);
  rewrite_header(guard.name(), [](core::SegmentHeader &header) { header.capacity_bytes /= 4; });
  const auto first = reader.pop();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->body, "unread");
  reader.close();
  writer.close();
}

// Root only: the test needs a second user.
const passwd *nobody_or_skip() {
  if (::geteuid() != 0) {
    return nullptr;
  }
  return ::getpwnam("nobody");
}

TEST(Hostile, AQueueAnotherUserCreatedUnderOurNameIsRefusedUnlessAllowed) {
  const passwd *nobody = nobody_or_skip();
  if (nobody == nullptr) {
    GTEST_SKIP() << "needs root and user nobody to own a segment as another user";
  }
  NameGuard guard(unique_name("squatted"));
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  // The squatter: another user creates the name first, readable and writable by all.
  Child squatter([&] {
    if (::setgid(gid) != 0 || ::setuid(uid) != 0) {
      return 3;
    }
    (void)Queue::create(guard.name(), {.capacity_bytes = 4096, .mode = 0666});
    return 0; // the segment stays: nobody opened it, so nothing closes it
  }, 30s);
  ASSERT_EQ(squatter.wait(), 0);
  try {
    (void)Queue::attach(guard.name());
    ADD_FAILURE() << "attached to another user's segment without a word";
  } catch (const ForeignOwner &error) {
    EXPECT_EQ(error.owner_uid(), uid);
    EXPECT_EQ(error.error_number(), EPERM);
    EXPECT_NE(std::string(error.what()).find("allow_foreign_owner"), std::string::npos);
  }
  AttachOptions allowed;
  allowed.allow_foreign_owner = true;
  auto queue = Queue::attach(guard.name(), allowed);
  queue.open("consenting");
  queue.close(); // the last close removes it (root may)
  EXPECT_FALSE(guard.exists());
}

TEST(Hostile, ARefusedRemovalLeavesTheNameForTheLastCloseToRemove) {
  const passwd *nobody = nobody_or_skip();
  if (nobody == nullptr) {
    GTEST_SKIP() << "needs root and user nobody: shm_unlink of another user's file in the "
                    "sticky /dev/shm fails (EPERM, which glibc reports as EACCES)";
  }
  NameGuard guard(unique_name("rm-refused"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096, .mode = 0666});
  // Writable by all whatever the umask, so the stranger gets as far as the unlink.
  ASSERT_EQ(::chmod(("/dev/shm/" + guard.name()).c_str(), 0666), 0);
  queue.open("owner");
  const uid_t uid = nobody->pw_uid;
  const gid_t gid = nobody->pw_gid;
  Child stranger([&] {
    if (::setgid(gid) != 0 || ::setuid(uid) != 0) {
      return 3;
    }
    AttachOptions allowed;
    allowed.allow_foreign_owner = true;
    try {
      Queue::attach(guard.name(), allowed).remove_name();
      return 4;
    } catch (const SyscallError &error) {
      // glibc's shm_unlink reports the kernel's EPERM (sticky /dev/shm) as EACCES.
      return error.error_number() == EPERM || error.error_number() == EACCES
                 ? 0
                 : 10 + error.error_number();
    }
  }, 30s);
  ASSERT_EQ(stranger.wait(), 0);
  EXPECT_TRUE(guard.exists());
  EXPECT_FALSE(queue.stats().unlinked); // before the fix: marked, though still there
  queue.close();
  EXPECT_FALSE(guard.exists()); // before the fix: the close skipped the unlink
}

TEST(Hostile, AForgedLockWordIsReportedByInspectionWithinItsTimeoutAndForceRemovesTheName) {
  NameGuard guard(unique_name("forged-lock"));
  {
    auto creator = Queue::create(guard.name(), {.capacity_bytes = 4096});
    (void)creator;
  } // no member: the name stays
  // The word names a live thread (this one) that will never unlock it: the kernel gives
  // no robust-futex rescue for a word that a hostile process wrote by hand. The
  // owner-word lock's word names this live process by pid and start time
  // (docs/design.md, "The lock line per platform"), so no waiter takes it over either.
  const int forged = static_cast<int>(::gettid());
  rewrite_header(guard.name(), [&](core::SegmentHeader &header) {
    if (platform::robust_mutex_kind() == platform::kLockKindRobustPthread) {
      std::atomic_ref<int>(*reinterpret_cast<int *>(header.lock_storage)).store(forged);
    } else {
      constexpr std::uint64_t kStartTagMask = (1ULL << 31) - 1;
      const std::uint64_t word = static_cast<std::uint32_t>(forged) |
                                 ((platform::current_process().start_time & kStartTagMask) << 32);
      std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t *>(header.lock_storage))
          .store(word);
    }
  });
  rewrite_header(guard.name(), [&](core::SegmentHeader &header) {
    EXPECT_EQ(platform::robust_mutex_holder(header.lock_storage), forged);
  });
  // In a child with a watchdog: before the fix stats() waited for ever.
  Child inspector([&] {
    const auto inspect = AttachOptions::for_inspection(200ms);
    auto queue = Queue::attach(guard.name(), inspect);
    try {
      (void)queue.stats();
      return 2;
    } catch (const LockHeld &error) {
      if (error.holder_pid() != forged ||
          std::string(error.what()).find("lock held by pid " + std::to_string(forged)) ==
              std::string::npos) {
        return 3;
      }
    }
    try {
      (void)queue.reap();
      return 4;
    } catch (const LockHeld &) {
    }
    queue.remove_name(/*take_lock=*/false); // syncq rm --force
    return 0;
  }, 30s);
  EXPECT_EQ(inspector.wait(), 0);
  EXPECT_FALSE(guard.exists());
}

TEST(Hostile, AWaitWhoseSlotWasTakenOverSaysTheRegistrationWasRemoved) {
  NameGuard guard(unique_name("taken-over"));
  auto queue = Queue::create(guard.name(), {.capacity_bytes = 4096});
  queue.open("victim");
  std::string error_text;
  std::thread waiter([&] {
    try {
      (void)queue.pop(Deadline::after(20s));
      error_text = "(no error)";
    } catch (const NotOpen &error) {
      error_text = error.what();
    }
  });
  // Handshake on the queue's own state: the waiter is counted asleep.
  auto looker = Queue::attach(guard.name());
  for (;;) {
    const Stats stats = looker.stats();
    if (!stats.member_list.empty() &&
        stats.member_list.front().waiting == MemberStats::Waiting::kForMessage) {
      break;
    }
    std::this_thread::sleep_for(1ms); // poll interval only
  }
  // Another process's registration overwrites the slot (pid and start time).
  rewrite_header(guard.name(), [&](core::SegmentHeader &header) {
    auto *slot = reinterpret_cast<core::MemberSlot *>(reinterpret_cast<std::byte *>(&header) +
                                                      header.members_offset);
    slot->pid = ::getpid() + 1;
  });
  waiter.join(); // within the 100 ms recheck of the wait
  EXPECT_NE(error_text.find("registration"), std::string::npos) << error_text;
  EXPECT_NE(error_text.find("removed"), std::string::npos) << error_text;
  EXPECT_NE(error_text.find("reaped or overwritten"), std::string::npos) << error_text;
  EXPECT_EQ(error_text.find("was closed by this process"), std::string::npos) << error_text;
  queue.close();
  looker.close();
  if (guard.exists()) {
    Queue::unlink(guard.name()); // the overwritten slot still counts as a member
  }
}

} // namespace
} // namespace pysyncq::testing
