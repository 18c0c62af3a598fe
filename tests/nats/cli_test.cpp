// syncq on nats:// queues, end to end: the real binary (SYNCQ_PROGRAM) against a real
// server. ls lists a server's pysyncq queues with the columns and JSON keys of shared
// memory; stat, tail and send work on a queue URL; a login comes from the URL, an option
// or the environment, and no password or token is ever printed.
#include "nats_fixture.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>
#include <nats/nats.h>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::Queue;
using pysyncq::testing::NatsServers;
using pysyncq::testing::NatsTest;
using pysyncq::testing::ServerLogin;
using pysyncq::testing::with_login;

namespace {

struct Finished {
  int status = -1; // exit status; -1 if it did not exit in time (it is then killed)
  std::string out;
  std::string err;
};

// A running syncq, its stdout and stderr on pipes.
class Syncq {
public:
  explicit Syncq(const std::vector<std::string> &args, const std::vector<std::string> &env = {}) {
    int out[2];
    int err[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0) {
      throw std::runtime_error("pipe2 failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    std::vector<std::string> argv_text = {SYNCQ_PROGRAM};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char *> argv;
    for (std::string &arg : argv_text) {
      argv.push_back(arg.data());
    }
    argv.push_back(nullptr);
    std::vector<std::string> env_text;
    for (char **entry = environ; *entry != nullptr; ++entry) {
      env_text.emplace_back(*entry);
    }
    env_text.insert(env_text.end(), env.begin(), env.end());
    std::vector<char *> envp;
    for (std::string &entry : env_text) {
      envp.push_back(entry.data());
    }
    envp.push_back(nullptr);
    const int failed =
        ::posix_spawn(&pid_, SYNCQ_PROGRAM, &actions, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    if (failed != 0) {
      throw std::runtime_error("cannot run " SYNCQ_PROGRAM);
    }
  }
  Syncq(const Syncq &) = delete;
  Syncq &operator=(const Syncq &) = delete;
  ~Syncq() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    ::close(err_);
  }

  /// Reads stderr until it holds `text` or `timeout` passes; true if it does.
  bool wait_for_stderr(const std::string &text, std::chrono::milliseconds timeout) {
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    while (finished_.err.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > give_up || !read_some(err_, finished_.err, 50ms)) {
        return finished_.err.find(text) != std::string::npos;
      }
    }
    return true;
  }

  /// What it printed on stderr so far (as read by wait_for_stderr).
  const std::string &stderr_so_far() const noexcept { return finished_.err; }

  /// Waits for the exit (killing it after `timeout`) and returns what it printed.
  Finished finish(std::chrono::milliseconds timeout = 30s) {
    const auto give_up = std::chrono::steady_clock::now() + timeout;
    bool out_open = true;
    bool err_open = true;
    while ((out_open || err_open) && std::chrono::steady_clock::now() < give_up) {
      out_open = out_open && read_some(out_, finished_.out, 10ms);
      err_open = err_open && read_some(err_, finished_.err, 10ms);
    }
    if (out_open || err_open) {
      ::kill(pid_, SIGKILL);
    }
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    finished_.status = !out_open && !err_open && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return finished_;
  }

private:
  // Appends what `fd` has within `timeout`; false at end of file.
  static bool read_some(int fd, std::string &into, std::chrono::milliseconds timeout) {
    pollfd ready{fd, POLLIN, 0};
    if (::poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) {
      return true; // nothing yet
    }
    char buffer[4096];
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got <= 0) {
      return got < 0 && errno == EINTR;
    }
    into.append(buffer, static_cast<std::size_t>(got));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  Finished finished_;
};

Finished syncq(const std::vector<std::string> &args, const std::vector<std::string> &env = {}) {
  return Syncq(args, env).finish();
}

// "nats://127.0.0.1:PORT" of a queue URL.
std::string server_of(const std::string &url) { return url.substr(0, url.rfind('/')); }

// A stream that is not a queue: one named like ours but without our description, and
// one of another program.
void add_foreign_streams(const std::string &server) {
  natsConnection *connection = nullptr;
  ASSERT_EQ(natsConnection_ConnectTo(&connection, server.c_str()), NATS_OK);
  jsCtx *js = nullptr;
  ASSERT_EQ(natsConnection_JetStream(&js, connection, nullptr), NATS_OK);
  for (const char *name : {"PYSYNCQ_lookalike", "ORDERS"}) {
    jsStreamConfig config;
    jsStreamConfig_Init(&config);
    config.Name = name;
    const std::string subject = std::string("foreign.") + name;
    const char *subjects[] = {subject.c_str()};
    config.Subjects = subjects;
    config.SubjectsLen = 1;
    config.Storage = js_MemoryStorage;
    EXPECT_EQ(js_AddStream(nullptr, js, &config, nullptr, nullptr), NATS_OK) << name;
  }
  jsCtx_Destroy(js);
  natsConnection_Destroy(connection);
}

} // namespace

class NatsCli : public NatsTest {};

TEST_F(NatsCli, ls_lists_the_queues_of_a_server_as_it_lists_shared_memory) {
  const std::string busy_url = fresh("busy");
  const std::string idle_url = fresh("idle");
  const std::string server = server_of(busy_url);
  Finished empty = syncq({"ls", server});
  EXPECT_EQ(empty.status, 0) << empty.err;
  EXPECT_EQ(empty.out, "NAME  CAPACITY  USED  MESSAGES  MEMBERS  DEAD\n");
  add_foreign_streams(server);
  Queue busy = Queue::create(busy_url, {.capacity_bytes = 1 << 16});
  Queue idle = Queue::create(idle_url, {.capacity_bytes = 4096});
  busy.open("holder");
  busy.append("t", "held");
  ASSERT_TRUE(pysyncq::testing::eventually([&] { return busy.stats().used_bytes > 0; }, 10s));
  const std::uint64_t used = busy.stats().used_bytes;

  Finished table = syncq({"ls", server + "/"});
  EXPECT_EQ(table.status, 0) << table.err;
  EXPECT_EQ(table.err, "");
  EXPECT_EQ(table.out.find("lookalike"), std::string::npos) << table.out;
  EXPECT_EQ(table.out.find("ORDERS"), std::string::npos) << table.out;
  const std::size_t busy_line = table.out.find(busy_url);
  const std::size_t idle_line = table.out.find(idle_url);
  ASSERT_NE(busy_line, std::string::npos) << table.out;
  ASSERT_NE(idle_line, std::string::npos) << table.out;
  EXPECT_LT(busy_line, idle_line) << "in name order";
  std::string row = table.out.substr(busy_line, table.out.find('\n', busy_line) - busy_line);
  std::vector<std::string> columns;
  for (std::size_t at = 0; at != std::string::npos;) {
    const std::size_t start = row.find_first_not_of(' ', at);
    if (start == std::string::npos) {
      break;
    }
    at = row.find(' ', start);
    columns.push_back(row.substr(start, at == std::string::npos ? at : at - start));
  }
  EXPECT_EQ(columns,
            (std::vector<std::string>{busy_url, "65536", std::to_string(used), "1", "1", "0"}));

  Finished json = syncq({"ls", "--json", server});
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_NE(json.out.find("{\"name\": \"" + busy_url +
                          "\", \"capacity_bytes\": 65536, "
                          "\"used_bytes\": " +
                          std::to_string(used) +
                          ", \"queued_messages\": 1, \"max_members\": 256, \"members\": 1, "
                          "\"dead_members\": 0, \"reaped_total\": 0, \"lock_recoveries\": 0, "
                          "\"segment_bytes\": 0, \"unlinked\": false}"),
            std::string::npos)
      << json.out;
  EXPECT_EQ(json.out.front(), '[');
  busy.close();
  idle.close();
}

TEST_F(NatsCli, stat_tail_and_send_work_on_a_queue_url) {
  const std::string url = fresh("drive");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  queue.open("watcher");
  Syncq tail({"tail", url, "-n", "1"});
  ASSERT_TRUE(tail.wait_for_stderr("Ctrl-C to stop", 20s)) << tail.stderr_so_far();
  EXPECT_NE(tail.stderr_so_far().find("following '" + url + "' as member 'syncq-tail'"),
            std::string::npos)
      << tail.stderr_so_far();

  Finished stat = syncq({"stat", url});
  EXPECT_EQ(stat.status, 0) << stat.err;
  EXPECT_NE(stat.out.find("queue            " + url), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("2 of 256 registered"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("syncq-tail"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("watcher"), std::string::npos) << stat.out;

  Finished sent = syncq({"send", url, "greeting", "hello over NATS"});
  EXPECT_EQ(sent.status, 0) << sent.err;
  Finished tailed = tail.finish();
  EXPECT_EQ(tailed.status, 0) << tailed.err;
  EXPECT_EQ(tailed.out, "syncq-send\tgreeting\thello over NATS\n");
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "hello over NATS");

  Finished json = syncq({"stat", "--json", url});
  EXPECT_EQ(json.status, 0) << json.err;
  EXPECT_NE(json.out.find("\"members\": 1,"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find("\"sender\": \"watcher\", \"alive\": true"), std::string::npos)
      << json.out;
  queue.close();
  Finished gone = syncq({"stat", url});
  EXPECT_EQ(gone.status, 1);
  EXPECT_NE(gone.err.find("does not exist"), std::string::npos) << gone.err;
}

TEST_F(NatsCli, a_login_comes_from_the_url_an_option_or_the_environment_and_is_never_printed) {
  servers_ = NatsServers::single(
      {.args = {"--user", "alice", "--pass", "s3cret"}, .userinfo = "alice:s3cret@"});
  const std::string plain = fresh("login");
  const std::string url = with_login(plain, "alice:s3cret@");
  Queue queue = Queue::create(url, {.capacity_bytes = 4096});
  queue.open("member");
  for (const auto &args : std::vector<std::vector<std::string>>{
           {"ls", server_of(url)}, {"stat", url}, {"send", url, "t", "b"}}) {
    Finished done = syncq(args);
    EXPECT_EQ(done.status, 0) << args[0] << ": " << done.err;
    EXPECT_EQ((done.out + done.err).find("s3cret"), std::string::npos) << done.out << done.err;
  }
  EXPECT_NE(syncq({"stat", url}).out.find(with_login(plain, "alice:***@")), std::string::npos);
  Finished wrong = syncq({"stat", with_login(plain, "alice:wr0ng@")});
  EXPECT_EQ(wrong.status, 1);
  EXPECT_NE(wrong.err.find("cannot connect to NATS at 127.0.0.1:"), std::string::npos) << wrong.err;
  EXPECT_NE(wrong.err.find("alice:***@"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("wr0ng"), std::string::npos) << wrong.err;
  queue.close();

  servers_ = NatsServers::single({.args = {"--auth", "t0ken"}, .access = {.token = "t0ken"}});
  const std::string token_url = fresh("token");
  Queue token_queue =
      Queue::create(token_url, {.capacity_bytes = 4096, .access = {.token = "t0ken"}});
  Finished by_option = syncq({"ls", server_of(token_url), "--token", "t0ken"});
  EXPECT_EQ(by_option.status, 0) << by_option.err;
  EXPECT_NE(by_option.out.find(token_url), std::string::npos) << by_option.out;
  Finished by_env = syncq({"stat", token_url}, {"SYNCQ_TOKEN=t0ken"});
  EXPECT_EQ(by_env.status, 0) << by_env.err;
  Finished refused = syncq({"stat", token_url, "--token", "n0pe"});
  EXPECT_EQ(refused.status, 1);
  EXPECT_NE(refused.err.find("wrong user, password, token or credentials"), std::string::npos)
      << refused.err;
  EXPECT_EQ(refused.err.find("n0pe"), std::string::npos) << refused.err;
  token_queue.close();
}
