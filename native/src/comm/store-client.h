// A client for the rendezvous store that rank 0 serves (src/engine/parallel/rendezvous-store.ts):
// Gloo's full-mesh connect exchanges each rank's listening address through a key-value store, and
// this is the Store it is given. It carries only those few keys and the join handshake; every
// collective goes over Gloo's own pairs.
#pragma once

#include <gloo/rendezvous/store.h>

#include <chrono>
#include <string>
#include <vector>

namespace tsllm {

class StoreClient : public gloo::rendezvous::Store {
 public:
  // Connects, retrying until `timeout` (the master may still be starting), then sends `hello`
  // (this rank's identity); a refusal throws with the master's reason.
  StoreClient(const std::string& host, int port, const std::string& hello, std::chrono::milliseconds timeout);
  ~StoreClient() override;

  void set(const std::string& key, const std::vector<char>& data) override;
  std::vector<char> get(const std::string& key) override;
  void wait(const std::vector<std::string>& keys) override;
  void wait(const std::vector<std::string>& keys, const std::chrono::milliseconds& timeout) override;

 private:
  // One request: op byte, key, optional value; returns the reply's payload, throwing on status != 0.
  std::vector<char> request(char op, const std::string& key, const std::vector<char>& value);
  void writeAll(const void* data, size_t bytes);
  void readAll(void* data, size_t bytes);

  int fd_ = -1;
  std::chrono::milliseconds timeout_;
};

}  // namespace tsllm
