// What the NATS backend asks of the local machine: who this process is (so that other
// members can tell, from a consumer's description, whether it has died) and randomness
// for names that no other process picks.
#pragma once

#include "nats/wire.hpp"

#include <string>
#include <string_view>

namespace pysyncq::nats {

/// This process as a member: pid, start time, boot id; `sender` as given.
MemberIdentity this_process(std::string_view sender);
/// False only when `member` ran on this machine (same boot id) and is gone now.
bool may_be_alive(const MemberIdentity &member) noexcept;
/// `digits` random hexadecimal digits (from the kernel's generator).
std::string random_hex(std::size_t digits);

} // namespace pysyncq::nats
