// The NATS backend's pure parts, without a server: queue URLs, the wire format (header
// escaping, the bytes the server charges, ack subjects) and the member's ordered inbox.
#include "nats/address.hpp"
#include "nats/inbox.hpp"
#include "nats/wire.hpp"

#include <pysyncq/errors.hpp>

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using namespace pysyncq::nats;

TEST(NatsAddress, a_url_names_its_servers_stream_and_subject) {
  const Address address = parse_address("nats://h1:4223,h2/jobs-1", {});
  EXPECT_EQ(address.url, "nats://h1:4223,h2/jobs-1");
  ASSERT_EQ(address.servers.size(), 2U);
  EXPECT_EQ(address.servers[0], "nats://h1:4223");
  EXPECT_EQ(address.servers[1], "nats://h2:4222");
  EXPECT_EQ(address.stream, "PYSYNCQ_jobs-1");
  EXPECT_EQ(address.subject, "pysyncq.jobs-1");
}

TEST(NatsAddress, malformed_urls_are_refused_with_a_reason) {
  for (const char *url :
       {"nats://host", "nats://host/", "nats:///q", "nats://h:0/q", "nats://h:99999/q",
        "nats://h:x/q", "nats://h/a.b", "nats://h/a b", "nats://h/a*", "http://h/q", "nats://@h/q",
        "nats://:pw@h/q", "nats://h1,u:p@h2/q"}) {
    EXPECT_THROW(parse_address(url, {}), pysyncq::InvalidArgument) << url;
  }
}

TEST(NatsAddress, a_login_in_the_url_is_taken_out_of_it_and_never_shown) {
  const Address address = parse_address("nats://al%40ce:p%3Ass%2Fw0rd@h1:4223,h2/jobs", {});
  EXPECT_EQ(address.login.user, "al@ce");
  EXPECT_EQ(address.login.password, "p:ss/w0rd");
  EXPECT_EQ(address.servers[0], "nats://h1:4223") << "nats.c never sees the login in a URL";
  EXPECT_EQ(address.url, "nats://al%40ce:***@h1:4223,h2/jobs");
  const Address token = parse_address("nats://s3cret@h/jobs", {});
  EXPECT_EQ(token.login.token, "s3cret");
  EXPECT_TRUE(token.login.user.empty());
  EXPECT_EQ(token.url, "nats://***@h/jobs");
  for (const char *bad : {"nats://alice:s3cret@h/bad.name", "nats://alice:s3c/ret@h/q",
                          "nats://alice:s3c,ret@h/q", "nats://s3cret@h:x/q"}) {
    try {
      (void)parse_address(bad, {});
      ADD_FAILURE() << "accepted: " << bad;
    } catch (const pysyncq::InvalidArgument &error) {
      EXPECT_EQ(std::string(error.what()).find("s3c"), std::string::npos) << error.what();
    }
  }
}

TEST(NatsAddress, access_options_join_the_url_and_tls_scheme_asks_for_tls) {
  pysyncq::NatsAccess access;
  access.token = "t0k";
  access.credentials_file = "/x.creds";
  access.tls_ca_file = "/ca.pem";
  const Address address = parse_address("tls://h/jobs", access);
  EXPECT_TRUE(address.login.tls);
  EXPECT_EQ(address.servers[0], "nats://h:4222");
  EXPECT_EQ(address.login.token, "t0k");
  EXPECT_EQ(address.login.credentials_file, "/x.creds");
  EXPECT_EQ(address.login.tls_ca_file, "/ca.pem");
  EXPECT_FALSE(parse_address("nats://h/jobs", {}).login.tls);
  EXPECT_TRUE(parse_address("nats://h/jobs", {.tls_ca_file = "/ca.pem"}).login.tls)
      << "a CA means TLS";
  EXPECT_THROW(parse_address("nats://other@h/jobs", access), pysyncq::InvalidArgument)
      << "a token twice";
  pysyncq::NatsAccess half;
  half.tls_cert_file = "/cert.pem";
  EXPECT_THROW(parse_address("nats://h/jobs", half), pysyncq::InvalidArgument)
      << "a certificate without its key";
}

TEST(NatsAddress, a_server_address_has_no_name) {
  EXPECT_EQ(parse_server_address("nats://u:p@h:5000", {}).servers[0], "nats://h:5000");
  EXPECT_EQ(parse_server_address("nats://h:5000/", {}).url, "nats://h:5000/");
  EXPECT_THROW(parse_server_address("nats://h/jobs", {}), pysyncq::InvalidArgument);
}

TEST(NatsWire, header_values_carry_any_bytes) {
  const std::string bytes("a b%c\r\n\0\xff:", 10);
  const std::string text = escape_header_value(bytes);
  for (const char c : text) {
    EXPECT_TRUE(c >= '!' && c <= '~') << text;
  }
  EXPECT_EQ(percent_decode(text), bytes);
  EXPECT_EQ(escape_header_value("worker-1"), "worker-1");
}

// The figures the server reported for such a message (nats-server 2.9.10, measured):
// subject "pysyncq.t", sender "worker-1", type "t", a 20-byte id, a 10-byte body.
TEST(NatsWire, stored_bytes_match_what_the_server_charges) {
  const std::uint64_t headers = header_bytes(8, 1);
  EXPECT_EQ(headers, 10U + 26U + 17U + 35U + 2U);
  EXPECT_EQ(stored_bytes(Storage::kMemory, 9, headers, 10), 16U + 9U + headers + 10U);
  EXPECT_EQ(stored_bytes(Storage::kFile, 9, headers, 10), 22U + 9U + 4U + headers + 10U + 8U);
  EXPECT_EQ(header_bytes(8, 0), headers - 17U) << "an empty type sends no header";
}

TEST(NatsWire, ack_subjects_give_the_stream_sequence) {
  auto info = parse_ack_subject("$JS.ACK.PYSYNCQ_t.m1.3.42.7.1795637892356997907.0");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->stream_sequence, 42U);
  EXPECT_EQ(info->delivery_count, 3U);
  info = parse_ack_subject("$JS.ACK.hub.ACCHASH.PYSYNCQ_t.m1.1.43.8.1795637892356997907.0.rnd");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->stream_sequence, 43U);
  EXPECT_FALSE(parse_ack_subject("_INBOX.abc"));
  EXPECT_FALSE(parse_ack_subject("$JS.ACK.s.c.x.y.z.t.p"));
}

TEST(NatsWire, member_descriptions_round_trip) {
  const MemberIdentity member{1234, 987654, "boot-id", "sender with spaces"};
  const auto parsed = parse_member(describe_member(member));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->pid, 1234);
  EXPECT_EQ(parsed->start_time, 987654U);
  EXPECT_EQ(parsed->boot_id, "boot-id");
  EXPECT_EQ(parsed->sender, "sender with spaces");
  EXPECT_FALSE(parse_member("someone else's consumer"));
  EXPECT_EQ(parse_queue_liveness_ms(describe_queue(2500, "tok")), 2500U);
  EXPECT_FALSE(parse_queue_liveness_ms("a stream of another program"));
}

namespace {
Delivery delivery(std::uint64_t sequence) {
  return Delivery{sequence, "reply." + std::to_string(sequence), "s", "t",
                  std::to_string(sequence)};
}
std::string pop(Inbox &inbox) {
  const Delivery *next = inbox.next(Inbox::Clock::now());
  if (next == nullptr) {
    return "none";
  }
  std::string body = next->body;
  inbox.consume();
  return body;
}
} // namespace

TEST(NatsInbox, hands_out_in_stream_order_once_each) {
  Inbox inbox(1h);
  EXPECT_EQ(inbox.add(delivery(12)), Inbox::Added::kKept); // before the consumer's creation returns
  EXPECT_EQ(pop(inbox), "none") << "nothing before start_at";
  inbox.start_at(10);
  EXPECT_EQ(inbox.add(delivery(11)), Inbox::Added::kKept);
  EXPECT_EQ(pop(inbox), "none") << "10 is missing: 11 waits";
  EXPECT_EQ(inbox.add(delivery(10)), Inbox::Added::kKept);
  EXPECT_EQ(inbox.add(delivery(11)), Inbox::Added::kDuplicate);
  EXPECT_EQ(pop(inbox), "10");
  EXPECT_EQ(pop(inbox), "11");
  EXPECT_EQ(inbox.add(delivery(10)), Inbox::Added::kAckAgain) << "a redelivery of a consumed one";
  EXPECT_EQ(pop(inbox), "12");
  EXPECT_EQ(pop(inbox), "none");
  EXPECT_TRUE(inbox.holds(13));
  EXPECT_FALSE(inbox.holds(12));
}

TEST(NatsInbox, a_gap_that_outlives_its_timeout_is_skipped) {
  Inbox inbox(50ms);
  inbox.start_at(1);
  inbox.add(delivery(3));
  EXPECT_EQ(pop(inbox), "none");
  EXPECT_TRUE(inbox.wait(Inbox::Clock::now() + 5s)) << "the wait ends when the gap times out";
  EXPECT_EQ(pop(inbox), "3");
  EXPECT_EQ(inbox.skipped(), 2U);
  EXPECT_EQ(inbox.add(delivery(2)), Inbox::Added::kAckAgain);
}

TEST(NatsInbox, wait_ends_at_its_deadline_or_on_close) {
  Inbox inbox(1h);
  inbox.start_at(1);
  const auto start = Inbox::Clock::now();
  EXPECT_FALSE(inbox.wait(start + 50ms));
  EXPECT_GE(Inbox::Clock::now() - start, 50ms);
  inbox.close();
  EXPECT_FALSE(inbox.wait(Inbox::Clock::now() + 1h));
}
