// The dashboard's static files, compiled into the binary (cmake/embed_web.cmake): web/*.html,
// *.js, *.css and the chart library from node_modules/. Served at / and /web/<name>.
#pragma once

#include <cstddef>
#include <string_view>

namespace podfleet {

struct WebAsset {
  std::string_view path;   // "/index.html"
  std::string_view type;   // Content-Type
  std::string_view bytes;  // empty: the file was missing when podfleet was built
};

// The asset at `path` ("/dashboard.js"), or nullptr.
const WebAsset* FindWebAsset(std::string_view path);

}  // namespace podfleet
