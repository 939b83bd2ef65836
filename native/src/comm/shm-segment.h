// A named POSIX shared-memory segment mapped into this process: rank 0 creates it, the other ranks of
// the host open it by name, and the name can be unlinked once all have it mapped.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace tsllm {

class SharedSegment {
 public:
  SharedSegment(const std::string& name, size_t bytes, bool create, const char* what) : name_(name), bytes_(bytes) {
    const int fd = shm_open(name.c_str(), create ? (O_CREAT | O_EXCL | O_RDWR) : O_RDWR, 0600);
    if (fd < 0) throw std::runtime_error(std::string(what) + ": shm_open " + name + ": " + strerror(errno));
    if (create && ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      const int e = errno;
      close(fd);
      throw std::runtime_error(std::string(what) + ": ftruncate: " + strerror(e));
    }
    void* base = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) throw std::runtime_error(std::string(what) + ": mmap: " + strerror(errno));
    base_ = static_cast<char*>(base);
  }
  ~SharedSegment() { munmap(base_, bytes_); }
  SharedSegment(const SharedSegment&) = delete;
  SharedSegment& operator=(const SharedSegment&) = delete;

  char* base() const { return base_; }
  void unlink() const { shm_unlink(name_.c_str()); }

 private:
  std::string name_;
  size_t bytes_;
  char* base_ = nullptr;
};

}  // namespace tsllm
