// Memory maps: model files, so weights are paged in from the OS cache instead of copied, and
// anonymous regions for the KV cache.
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

// Asks the OS to reclaim the whole pages inside [data, data + bytes) now: mapped file pages are dropped
// (read back from the file if touched again), anonymous ones written to swap if there is any. The
// contents never change, so it is safe on any memory. Returns false where the kernel refuses.
bool releasePages(const void* data, size_t bytes);

// Zero-filled anonymous memory (the KV cache, repacked weights): page-aligned, committed only as pages
// are touched. With hugePages, aligned to 2 MiB and advised for transparent huge pages (where the
// system allows them): a weight matrix streamed once per decode step then costs one TLB entry per
// 2 MiB instead of per 4 KiB.
bool mapAnonymous(size_t bytes, MappedFile& out, std::string& error, bool hugePages = false);

}  // namespace tsllm
