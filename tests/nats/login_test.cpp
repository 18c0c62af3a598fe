// Servers that ask for a login or TLS: a user and password in the URL, a token, a client
// certificate; a refused login is a SyscallError(EACCES) naming the server, and no
// password or token ever shows in a name or a message.
#include "nats_fixture.hpp"
#include "support/processes.hpp"

#include <pysyncq/queue.hpp>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>

using namespace std::chrono_literals;
using pysyncq::Deadline;
using pysyncq::NatsAccess;
using pysyncq::Queue;
using pysyncq::testing::Child;
using pysyncq::testing::nats_server_program;
using pysyncq::testing::NatsServers;
using pysyncq::testing::ServerLogin;
using pysyncq::testing::with_login;

namespace {

class NatsLogin : public ::testing::Test {
protected:
  void SetUp() override {
    if (nats_server_program().empty()) {
      GTEST_SKIP() << "nats-server is not installed (apt-get install nats-server)";
    }
  }
  void start(const ServerLogin &login) { servers_ = NatsServers::single(login); }
  std::string fresh(const std::string &tag) const {
    return servers_->url(NatsServers::unique_queue(tag));
  }
  // "127.0.0.1:PORT": how an error names the server.
  std::string server() const {
    const std::string url = servers_->url("x");
    const std::size_t start = url.find("://") + 3;
    return url.substr(start, url.rfind('/') - start);
  }

  std::unique_ptr<NatsServers> servers_;
};

// Appends one message and reads it back: the login works for every call, not just connect.
void round_trip(Queue &queue) {
  queue.open("me");
  queue.append("t", "through");
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "through");
  queue.close();
}

// Expects `attach` to throw SyscallError(`errno_expected`) whose text names `must` and
// does not show `secret` (when given).
template <class Attach>
void expect_refused(Attach attach, int errno_expected, const std::string &must,
                    const std::string &secret = {}) {
  try {
    attach();
    ADD_FAILURE() << "not refused";
  } catch (const pysyncq::SyscallError &error) {
    const std::string text = error.what();
    EXPECT_EQ(error.error_number(), errno_expected) << text;
    EXPECT_NE(text.find(must), std::string::npos) << text;
    EXPECT_TRUE(secret.empty() || text.find(secret) == std::string::npos) << text;
  }
}

} // namespace

TEST_F(NatsLogin, a_user_and_password_in_the_url_log_in_and_are_never_shown) {
  start({.args = {"--user", "alice", "--pass", "s3cret/x"}, .userinfo = "alice:s3cret%2Fx@"});
  const std::string url = with_login(fresh("user"), "alice:s3cret%2Fx@");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16});
  EXPECT_EQ(queue.name(),
            with_login(servers_->url(""), "alice:***@") + url.substr(url.rfind('/') + 1));
  EXPECT_EQ(queue.stats().name, queue.name());
  queue.open("parent");
  Queue other = Queue::attach(url);
  round_trip(other);
  ASSERT_TRUE(queue.pop(Deadline::after(10s))) << "the other handle's message";
  Child child([&] { // a forked child logs in with what its parent's handle holds
    queue.open("child");
    queue.append("t", "from the child");
    queue.close();
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->sender, "child");
  queue.close();
}

TEST_F(NatsLogin, a_wrong_password_or_none_is_refused_naming_the_server) {
  start({.args = {"--user", "alice", "--pass", "s3cret"}, .userinfo = "alice:s3cret@"});
  const std::string url = fresh("wrong");
  Queue queue = Queue::create(with_login(url, "alice:s3cret@"), {.capacity_bytes = 4096});
  expect_refused([&] { (void)Queue::attach(with_login(url, "alice:wr0ng@")); }, EACCES, server(),
                 "wr0ng");
  expect_refused([&] { (void)Queue::attach(url); }, EACCES, server(), "s3cret");
}

TEST_F(NatsLogin, a_token_logs_in_from_the_options_or_the_url) {
  const NatsAccess access{.token = "t0ken"};
  start({.args = {"--auth", "t0ken"}, .access = access});
  const std::string url = fresh("token");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  EXPECT_EQ(queue.name(), url);
  Queue by_url = Queue::attach(with_login(url, "t0ken@"));
  EXPECT_EQ(by_url.name(), with_login(url, "***@"));
  round_trip(by_url);
  expect_refused([&] { (void)Queue::attach(url, {.token = "other"}); }, EACCES, server(), "other");
}

// A credentials file (a user JWT and its NKey seed) against a server in operator mode:
// tests/nats/credentials.py makes the operator, a system account, an account with
// JetStream and a user, signed as nsc would. The file logs in, for every call and for a
// forked child; without it the server refuses.
TEST_F(NatsLogin, a_credentials_file_logs_in_to_a_server_with_an_operator_and_an_account) {
  char dir[] = "/tmp/pysyncq-creds-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string folder = dir;
  const int made = std::system(
      ("/usr/bin/python3 '" CREDENTIALS_SCRIPT "' '" + folder + "' >/dev/null 2>&1").c_str());
  if (made != 0) {
    std::filesystem::remove_all(folder);
    GTEST_SKIP() << "tests/nats/credentials.py could not make credentials "
                    "(apt-get install python3-cryptography)";
  }
  const NatsAccess access{.credentials_file = folder + "/user.creds"};
  start({.args = {"-c", folder + "/server.conf"}, .access = access});
  const std::string url = fresh("creds");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  queue.open("parent"); // so that the child's close is not the last
  Child child([&] {
    Queue mine = Queue::attach(url, access);
    mine.open("child");
    mine.append("t", "from the child");
    mine.close();
    return 0;
  });
  EXPECT_EQ(child.wait(), 0);
  auto message = queue.pop(Deadline::after(10s));
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "from the child");
  queue.close();
  Queue again = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  round_trip(again);
  expect_refused([&] { (void)Queue::attach(url); }, EACCES, server());
  servers_.reset();
  std::filesystem::remove_all(folder);
}

TEST_F(NatsLogin, an_unreadable_credentials_file_is_named) {
  start({});
  expect_refused(
      [&] { (void)Queue::attach(fresh("creds"), {.credentials_file = "/nonexistent.creds"}); },
      ENOENT, "/nonexistent.creds");
}

namespace {

// A CA, a server certificate for 127.0.0.1 and localhost, a client certificate and a
// server certificate for 127.0.0.1 and other.example only, all signed by the CA,
// made with the openssl command in `dir`. False when openssl is missing or fails.
bool make_certificates(const std::string &dir) {
  const std::string script =
      "cd '" + dir +
      "' && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
      "-keyout ca.key -out ca.pem -subj '/CN=pysyncq test CA' && "
      "for who in server client; do "
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout $who.key "
      "-out $who.csr -subj /CN=127.0.0.1 && "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth,"
      "clientAuth\\n' > $who.ext && "
      "openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-out $who.pem -extfile $who.ext || exit 1; done && "
      // A certificate from the same CA for 127.0.0.1 and other.example, not localhost.
      "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout other.key "
      "-out other.csr -subj /CN=other.example && "
      "printf 'subjectAltName=IP:127.0.0.1,DNS:other.example\nextendedKeyUsage=serverAuth\n' > "
      "other.ext && "
      "openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 "
      "-out other.pem -extfile other.ext";
  return std::system(("( " + script + " ) >/dev/null 2>&1").c_str()) == 0;
}

class NatsTls : public NatsLogin {
protected:
  void SetUp() override {
    NatsLogin::SetUp();
    if (IsSkipped()) {
      return;
    }
    char dir[] = "/tmp/pysyncq-tls-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
    if (!make_certificates(dir_)) {
      GTEST_SKIP() << "openssl could not make test certificates (apt-get install openssl)";
    }
  }
  void TearDown() override {
    servers_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  std::string file(const char *name) const { return dir_ + "/" + name; }

  std::string dir_;
};

} // namespace

TEST_F(NatsTls, a_tls_server_is_reached_with_its_ca_and_refused_without) {
  const NatsAccess access{.tls_ca_file = file("ca.pem")};
  start({.args = {"--tlscert", file("server.pem"), "--tlskey", file("server.key")},
         .access = access,
         .scheme = "tls"});
  const std::string url = fresh("tls");
  ASSERT_EQ(url.substr(0, 6), "tls://");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  Queue by_option =
      Queue::attach("nats://" + url.substr(6), {.tls = true, .tls_ca_file = file("ca.pem")});
  round_trip(by_option);
  expect_refused([&] { (void)Queue::attach(url); }, EPROTO, server());
}

TEST_F(NatsTls, a_server_that_verifies_clients_takes_our_certificate) {
  const NatsAccess access{.tls_ca_file = file("ca.pem"),
                          .tls_cert_file = file("client.pem"),
                          .tls_key_file = file("client.key")};
  start({.args = {"--tlsverify", "--tlscert", file("server.pem"), "--tlskey", file("server.key"),
                  "--tlscacert", file("ca.pem")},
         .access = access,
         .scheme = "tls"});
  const std::string url = fresh("mtls");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  round_trip(queue);
  expect_refused([&] { (void)Queue::attach(url, {.tls_ca_file = file("ca.pem")}); }, EPROTO,
                 server());
}

// The host name is checked whatever nats.c's build (we set the expected name for a single
// server): a certificate from the trusted CA that is not for the name in the URL
// (localhost) is refused, and the message says why; by a name it has, the server is
// reached.
TEST_F(NatsTls, a_certificate_for_another_host_name_is_refused) {
  const NatsAccess access{.tls_ca_file = file("ca.pem")};
  start({.args = {"--tlscert", file("other.pem"), "--tlskey", file("other.key")},
         .access = access,
         .scheme = "tls"});
  std::string url = fresh("other");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  expect_refused([&] { (void)Queue::attach(url, access); }, EPROTO,
                 "not for the host name in the URL");
  try {
    (void)Queue::attach(url, access);
  } catch (const pysyncq::SyscallError &error) {
    EXPECT_NE(std::string(error.what()).find("hostname mismatch"), std::string::npos)
        << error.what();
  }
}

TEST_F(NatsTls, a_server_is_reached_by_any_name_its_certificate_has) {
  const NatsAccess access{.tls_ca_file = file("ca.pem")};
  start({.args = {"--tlscert", file("server.pem"), "--tlskey", file("server.key")},
         .access = access,
         .scheme = "tls"});
  std::string url = fresh("byname");
  url.replace(url.find("127.0.0.1"), 9, "localhost");
  Queue queue = Queue::create(url, {.capacity_bytes = 1 << 16, .access = access});
  round_trip(queue);
}
