#include "common.hpp"

#include <cerrno>

namespace syncq {

pysyncq::Queue attach_queue(const std::string &name, const pysyncq::NatsAccess &access,
                            const pysyncq::AttachOptions &options) {
  try {
    return pysyncq::Queue::attach(name, options, access);
  } catch (const pysyncq::SyscallError &error) {
    if (name.find("://") != std::string::npos) {
      throw; // a NATS URL: the library's message names the server, with no password
    }
    if (dynamic_cast<const pysyncq::ForeignOwner *>(&error) != nullptr) {
      throw; // its message says whose it is and how to allow it
    }
    switch (error.error_number()) {
    case ENOENT:
      throw Failure("queue '" + name + "' does not exist");
    case EACCES:
      throw Failure("no permission to open queue '" + name + "' (/dev/shm/" + name + ")");
    default:
      throw;
    }
  }
}

void add_nats_access(CLI::App &app, pysyncq::NatsAccess &access) {
  const std::string group = "NATS options (nats:// and tls:// names)";
  app.add_option("--token", access.token,
                 "Authorization token of the NATS server (from $SYNCQ_TOKEN when not given, "
                 "which keeps it out of the process list)")
      ->envname("SYNCQ_TOKEN")
      ->group(group);
  app.add_option("--creds", access.credentials_file,
                 "NATS credentials file (user JWT and NKey seed)")
      ->check(CLI::ExistingFile)
      ->group(group);
  app.add_flag("--tls", access.tls, "Insist on TLS (as a tls:// name does)")->group(group);
  app.add_option("--tls-ca", access.tls_ca_file,
                 "PEM file of the CAs that signed the server's certificate")
      ->check(CLI::ExistingFile)
      ->group(group);
  CLI::Option *cert = app.add_option("--tls-cert", access.tls_cert_file,
                                     "PEM file of this client's certificate, for servers that "
                                     "verify clients")
                          ->check(CLI::ExistingFile)
                          ->group(group);
  CLI::Option *key = app.add_option("--tls-key", access.tls_key_file,
                                    "PEM file of the client certificate's private key")
                         ->check(CLI::ExistingFile)
                         ->group(group);
  cert->needs(key);
  key->needs(cert);
}

void add_allow_foreign_owner(CLI::App &app, bool &allow) {
  app.add_flag("--allow-foreign-owner", allow,
               "Use the queue even if another user owns its segment (refused by default: the "
               "owner can read and rewrite every message; see docs/failures.md)");
}

std::vector<int> live_member_pids(const pysyncq::Stats &stats, int except) {
  std::vector<int> pids;
  for (const pysyncq::MemberStats &member : stats.member_list) {
    if (member.alive && member.pid != except) {
      pids.push_back(member.pid);
    }
  }
  return pids;
}

} // namespace syncq
