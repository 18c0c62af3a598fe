// What the Windows platform (issue 18, stage 3: src/platform/windows/) relies on, checked
// under Wine with one small program: `make check-wine` (mingw-w64 cross-compiles it,
// wine runs it). A parent creates a named SEC_COMMIT file mapping and a named mutex and
// starts itself again as "holder", which maps the same name, writes into it, takes the
// mutex and sleeps. The parent then reads what the child wrote, asks GetProcessTimes
// for the child's creation time (liveness: pid + creation time), TerminateProcess'es it
// and waits on the mutex, which must say WAIT_ABANDONED (the EOWNERDEAD of Windows).
// Wine 8.0 (Debian 12): all four lines say yes/ok/WAIT_ABANDONED.
#include <windows.h>
#include <cstdio>
#include <cstring>

int main(int argc, char **argv) {
  if (argc > 1 && std::strcmp(argv[1], "holder") == 0) {
    HANDLE m = OpenMutexA(SYNCHRONIZE, FALSE, "Local\\pysyncq-check-mutex");
    if (!m || WaitForSingleObject(m, INFINITE) != WAIT_OBJECT_0) return 3;
    HANDLE map = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, "Local\\pysyncq-check-map");
    if (!map) return 4;
    char *view = static_cast<char *>(MapViewOfFile(map, FILE_MAP_ALL_ACCESS, 0, 0, 0));
    std::strcpy(view, "written by the child");
    HANDLE ready = OpenEventA(EVENT_MODIFY_STATE, FALSE, "Local\\pysyncq-check-ready");
    SetEvent(ready);
    Sleep(INFINITE); // TerminateProcess'd holding the mutex
  }
  HANDLE map = CreateFileMappingA(INVALID_HANDLE_VALUE, nullptr, PAGE_READWRITE | SEC_COMMIT, 0,
                                  65536, "Local\\pysyncq-check-map");
  std::printf("CreateFileMapping: %s (GetLastError %lu)\n", map ? "ok" : "FAILED", GetLastError());
  char *view = static_cast<char *>(MapViewOfFile(map, FILE_MAP_ALL_ACCESS, 0, 0, 0));
  HANDLE mutex = CreateMutexA(nullptr, FALSE, "Local\\pysyncq-check-mutex");
  HANDLE ready = CreateEventA(nullptr, TRUE, FALSE, "Local\\pysyncq-check-ready");
  char cmd[MAX_PATH + 16];
  char self[MAX_PATH];
  GetModuleFileNameA(nullptr, self, MAX_PATH);
  std::snprintf(cmd, sizeof cmd, "\"%s\" holder", self);
  STARTUPINFOA si{};
  si.cb = sizeof si;
  PROCESS_INFORMATION pi{};
  if (!CreateProcessA(nullptr, cmd, nullptr, nullptr, FALSE, 0, nullptr, nullptr, &si, &pi)) {
    std::printf("CreateProcess FAILED %lu\n", GetLastError());
    return 1;
  }
  WaitForSingleObject(ready, 10000);
  int failures = map == nullptr ? 1 : 0;
  const bool shared = std::strcmp(view, "written by the child") == 0;
  failures += shared ? 0 : 1;
  std::printf("named mapping shared with the child: %s\n", shared ? "yes" : "NO");
  FILETIME created, exited, kernel, user;
  HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, pi.dwProcessId);
  BOOL got = GetProcessTimes(h, &created, &exited, &kernel, &user);
  failures += got ? 0 : 1;
  std::printf("GetProcessTimes: %s, creation %lu:%lu\n", got ? "ok" : "FAILED",
              created.dwHighDateTime, created.dwLowDateTime);
  TerminateProcess(pi.hProcess, 9);
  WaitForSingleObject(pi.hProcess, 10000);
  DWORD w = WaitForSingleObject(mutex, 10000);
  std::printf("wait on the killed holder's mutex: %s (%lu)\n",
              w == WAIT_ABANDONED ? "WAIT_ABANDONED" : w == WAIT_OBJECT_0 ? "WAIT_OBJECT_0" : "other", w);
  failures += w == WAIT_ABANDONED ? 0 : 1;
  return failures;
}
