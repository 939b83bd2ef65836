// Wire format, both directions little-endian:
//   request: op (1 byte: 'H' hello, 'S' set, 'G' get-when-present), u32 key length, key,
//            u32 value length, value
//   reply:   status (1 byte, 0 = ok), u32 payload length, payload (the value, or the error text)
#include "store-client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace tsllm {

namespace {

int connectOnce(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) continue;
    if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(found);
  return fd;
}

void putU32(std::vector<char>& out, uint32_t v) {
  for (int i = 0; i < 4; i++) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

StoreClient::StoreClient(const std::string& host, int port, const std::string& hello, std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while ((fd_ = connectOnce(host, port)) < 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("cannot reach the master's rendezvous store at " + host + ":" + std::to_string(port) + " (is rank 0 running?)");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  request('H', "hello", std::vector<char>(hello.begin(), hello.end()));
}

StoreClient::~StoreClient() {
  if (fd_ >= 0) close(fd_);
}

void StoreClient::set(const std::string& key, const std::vector<char>& data) { request('S', key, data); }

std::vector<char> StoreClient::get(const std::string& key) { return request('G', key, {}); }

void StoreClient::wait(const std::vector<std::string>& keys) {
  for (const auto& k : keys) get(k);
}

void StoreClient::wait(const std::vector<std::string>& keys, const std::chrono::milliseconds&) { wait(keys); }

std::vector<char> StoreClient::request(char op, const std::string& key, const std::vector<char>& value) {
  std::vector<char> msg;
  msg.push_back(op);
  putU32(msg, static_cast<uint32_t>(key.size()));
  msg.insert(msg.end(), key.begin(), key.end());
  putU32(msg, static_cast<uint32_t>(value.size()));
  msg.insert(msg.end(), value.begin(), value.end());
  writeAll(msg.data(), msg.size());
  unsigned char head[5];
  readAll(head, 5);
  const uint32_t len = head[1] | (head[2] << 8) | (head[3] << 16) | (static_cast<uint32_t>(head[4]) << 24);
  std::vector<char> payload(len);
  if (len > 0) readAll(payload.data(), len);
  if (head[0] != 0) throw std::runtime_error(std::string(payload.begin(), payload.end()));
  return payload;
}

void StoreClient::writeAll(const void* data, size_t bytes) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    const ssize_t n = send(fd_, p, bytes, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error(std::string("rendezvous store: ") + strerror(errno));
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

void StoreClient::readAll(void* data, size_t bytes) {
  char* p = static_cast<char*>(data);
  while (bytes > 0) {
    const ssize_t n = recv(fd_, p, bytes, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) throw std::runtime_error("rendezvous store: the master closed the connection");
    if (n < 0) {
      throw std::runtime_error(errno == EAGAIN || errno == EWOULDBLOCK
          ? "rendezvous store: no answer within the timeout (did every rank of the world start?)"
          : std::string("rendezvous store: ") + strerror(errno));
    }
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

}  // namespace tsllm
