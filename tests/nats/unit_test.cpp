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
  EXPECT_EQ(parse_queue_liveness_ms(describe_queue(2500, 64, "tok")), 2500U);
  EXPECT_EQ(parse_queue_granule(describe_queue(2500, 64, "tok")), 64U);
  EXPECT_FALSE(parse_queue_liveness_ms("a stream of another program"));
  EXPECT_FALSE(parse_queue_granule("pysyncq-queue v1 liveness_ms=5000 token=t"))
      << "a queue made before granules";
}

// The server's check (used + headers + body < max_bytes) and its charge (overhead +
// headers + body) agree once every charge is whole granules and max_bytes is too: so the
// server refuses exactly the append whose charge would not fit, for every message size.
TEST(NatsWire, granules_make_the_servers_check_agree_with_its_charge) {
  for (const Storage storage : {Storage::kMemory, Storage::kFile}) {
    const std::uint64_t overhead = charge_overhead(storage, 9);
    EXPECT_EQ(overhead, stored_bytes(storage, 9, 0, 0));
    for (const std::uint64_t requested : {4096ULL, 4099ULL, 1000ULL, 10ULL}) {
      const std::uint64_t granule = choose_granule(storage, 9, requested);
      ASSERT_GT(granule, overhead);
      const std::uint64_t capacity = granule_capacity(requested, granule);
      EXPECT_EQ(capacity % granule, 0U);
      EXPECT_TRUE(capacity <= requested || capacity == granule) << requested;
      for (std::uint64_t unpadded = overhead + 1; unpadded < 3 * capacity; ++unpadded) {
        const Padding padding = pad_to_granule(unpadded, granule);
        ASSERT_EQ(padding.charged_bytes % granule, 0U);
        ASSERT_GE(padding.charged_bytes, unpadded);
        // The pad header line ("Pysyncq-Pad: " value "\r\n") is exactly the difference.
        ASSERT_EQ(padding.pad_value_bytes == 0 ? 0 : padding.pad_value_bytes + 15,
                  padding.charged_bytes - unpadded);
        const std::uint64_t payload = padding.charged_bytes - overhead;
        for (std::uint64_t used = 0; used <= capacity; used += granule) {
          const bool server_accepts = used + payload < capacity;   // memstore, filestore
          const bool lenient_accepts = used + payload <= capacity; // a check with <= instead
          const bool fits = used + padding.charged_bytes <= capacity;
          ASSERT_EQ(server_accepts, fits) << used << " " << unpadded;
          ASSERT_EQ(lenient_accepts, fits) << used << " " << unpadded;
        }
      }
    }
  }
  EXPECT_EQ(choose_granule(Storage::kMemory, 9, 4096), 32U) << "a divisor keeps the capacity";
  EXPECT_EQ(choose_granule(Storage::kMemory, 9, 1U << 20), 32U);
  EXPECT_EQ(choose_granule(Storage::kMemory, 9, 4099), 26U) << "else the smallest granule";
  EXPECT_EQ(granule_capacity(4099, 26), 4082U);
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

// A blocked appender's move (issue 13): what the inbox has moves, in order, into the
// backlog up to the limit; screened ones are dropped; every moved or dropped message is
// returned for acking; pops serve the backlog first and the order never changes.
TEST(NatsInbox, a_move_to_the_backlog_keeps_the_order_and_the_bound) {
  Inbox inbox(1h);
  inbox.start_at(1);
  for (std::uint64_t sequence = 1; sequence <= 5; ++sequence) {
    inbox.add(delivery(sequence));
  }
  const auto charge = [](const Delivery &) -> std::uint64_t { return 10; };
  const auto screen_3 = [](const Delivery &message) { return message.body == "3"; };
  Inbox::Moved moved = inbox.move_to_backlog(Inbox::Clock::now(), 25, charge, screen_3);
  // 1 and 2 fit (20 of 25), 3 is screened out, 4 would make 30: the bound stops it.
  EXPECT_EQ(moved.acks, (std::vector<std::string>{"reply.1", "reply.2", "reply.3"}));
  EXPECT_TRUE(moved.full);
  EXPECT_TRUE(inbox.backlog_full());
  EXPECT_EQ(inbox.backlog_messages(), 2U);
  EXPECT_EQ(inbox.backlog_bytes(), 20U);
  EXPECT_FALSE(inbox.holds(3)) << "moved and dropped ones are no longer held";
  EXPECT_TRUE(inbox.holds(4));
  const Delivery *next = inbox.next(Inbox::Clock::now());
  ASSERT_NE(next, nullptr);
  EXPECT_TRUE(next->reply.empty()) << "acked when it moved";
  EXPECT_EQ(pop(inbox), "1");
  EXPECT_FALSE(inbox.backlog_full()) << "a pop makes room";
  moved = inbox.move_to_backlog(Inbox::Clock::now(), 25, charge, screen_3);
  EXPECT_EQ(moved.acks, (std::vector<std::string>{"reply.4"}));
  EXPECT_TRUE(moved.full) << "5 does not fit";
  inbox.add(delivery(6));
  EXPECT_EQ(pop(inbox), "2");
  EXPECT_EQ(pop(inbox), "4");
  EXPECT_EQ(pop(inbox), "5") << "then the inbox, in order";
  EXPECT_EQ(pop(inbox), "6");
  EXPECT_EQ(pop(inbox), "none");
  EXPECT_EQ(inbox.backlog_bytes(), 0U);
}

TEST(NatsInbox, a_waiter_sees_the_backlog) {
  Inbox inbox(1h);
  inbox.start_at(1);
  inbox.add(delivery(1));
  (void)inbox.move_to_backlog(
      Inbox::Clock::now(), 100, [](const Delivery &) -> std::uint64_t { return 1; },
      [](const Delivery &) { return false; });
  EXPECT_TRUE(inbox.wait(Inbox::Clock::now())) << "a backlog message is a message to pop";
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
