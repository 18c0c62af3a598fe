// Facts about the machine and the process on Windows. There is no uid: named objects in
// Local\ belong to this session, which is the boundary the POSIX owner check draws, so
// effective_user_id() is 0 and so is every segment's owner_uid() (windows/shm.cpp).
#include "platform/system.hpp"

#include <windows.h>

namespace pysyncq::platform {

std::uint64_t page_size() noexcept {
  SYSTEM_INFO info{};
  ::GetSystemInfo(&info);
  return info.dwPageSize;
}

int current_pid() noexcept { return static_cast<int>(::GetCurrentProcessId()); }

unsigned effective_user_id() noexcept { return 0; }

} // namespace pysyncq::platform
