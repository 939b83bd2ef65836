// Read-only memory maps of model files, so weights are paged in from the OS cache instead of copied.
#pragma once

#include <cstddef>
#include <string>

namespace tsllm {

struct MappedFile {
  void* data = nullptr;
  size_t size = 0;
};

// Returns false and sets `error` when the file cannot be opened or mapped.
bool mapFile(const std::string& path, MappedFile& out, std::string& error);
void unmapFile(const MappedFile& file);

}  // namespace tsllm
