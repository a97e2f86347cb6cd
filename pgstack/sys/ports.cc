// TCP port helpers for servers on 127.0.0.1.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "pgstack/pg/errors.h"
#include "pgstack/sys/child_exec.h"
#include "pgstack/sys/process.h"

namespace pgstack::sys {

namespace {

sockaddr_in loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

detail::Fd tcp_socket(int extra_flags) {
  detail::Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | extra_flags, 0));
  if (!fd) throw Error(std::string("cannot create a TCP socket: ") + std::strerror(errno));
  return fd;
}

}  // namespace

int free_tcp_port() {
  auto fd = tcp_socket(0);
  sockaddr_in addr = loopback(0);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    throw Error(std::string("cannot find a free TCP port on 127.0.0.1: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw Error(std::string("cannot read the bound port: ") + std::strerror(errno));
  }
  return ntohs(addr.sin_port);
}

int free_tcp_ports(int count) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int port = free_tcp_port();
    bool all_free = port + count - 1 <= 65535;
    for (int next = port + 1; all_free && next < port + count; ++next) all_free = !port_in_use(next);
    if (all_free) return port;
  }
  throw Error("found no " + std::to_string(count) + " neighbouring free TCP ports on 127.0.0.1 in 50 tries");
}

bool port_in_use(int port) {
  if (port <= 0 || port > 65535) return false;
  // Non-blocking with a bound: a listener with a full backlog drops our SYN, and we
  // must not hang on it (it is in use all the same).
  auto fd = tcp_socket(SOCK_NONBLOCK);
  sockaddr_in addr = loopback(port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) return false;
  pollfd p{fd.get(), POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&p, 1, 1000);
  } while (ready < 0 && errno == EINTR);
  if (ready == 0) return true;
  int error = 0;
  socklen_t len = sizeof error;
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
  return error == 0;
}

}  // namespace pgstack::sys
