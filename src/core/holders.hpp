// Who holds back the oldest unread message, and whether any of them can still free it.
// Pure rules over the member table, liveness injected (as reap_dead takes it), so unit
// tests drive them without a kernel. docs/design.md, "Blocked appenders", says why.
#pragma once

#include "core/membership.hpp"

#include <cstdint>
#include <vector>

namespace pysyncq::core {

/// What a blocked appender (the member in slot `me`) finds about the holders.
struct HolderVerdict {
  /// The active slots whose cursor is the slowest one (empty when nothing is unread).
  std::vector<std::uint32_t> holders;
  /// `me` is a holder that can still move messages into its backlog: it must do that
  /// before it sleeps, or it would sleep on the space it waits for.
  bool me_can_move = false;
  /// Some other holder sleeps in a blocking append but can still move messages into its
  /// backlog: wake it, and it frees the space.
  bool wake_holders = false;
  /// Every holder is blocked appending with a full backlog (or is `me` with a full one):
  /// nobody can ever free this space.
  bool deadlock = false;
};

/// Under the lock. `head` is the slowest cursor, `tail` the tail.
/// A registration used by a second thread is never blocked (that thread may read).
HolderVerdict judge_holders(const MemberTable &members, std::uint64_t head, std::uint64_t tail,
                            std::uint32_t me, const IsAlive &is_alive);

} // namespace pysyncq::core
