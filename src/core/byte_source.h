// Bytes read at any offset of something whose size is known: a file at an origin read by HTTP
// Range requests (net/range_source.h), which audio/ decodes without holding it (audio/seams.h).
//
// Thread safety: as each implementation says; a reader is one thread at a time.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "core/error.h"

namespace podfleet {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to buffer.size() bytes at `offset`: at least one, or 0 at or past the end. Errors
  // are the implementation's (why the bytes could not be had), never a short read in disguise.
  virtual Result<size_t> ReadAt(int64_t offset, std::span<unsigned char> buffer) = 0;
  // The whole size in bytes.
  virtual int64_t size() const = 0;
  // What errors and logs call it (a URL).
  virtual const std::string& name() const = 0;
};

}  // namespace podfleet
