#include "feeds/mirror.h"

#include <sstream>

#include "feeds/xml.h"

namespace podfleet {
namespace {

constexpr std::string_view kPodcastNamespace = "https://podcastindex.org/namespace/1.0";

bool IsPodcastNamespace(std::string_view uri) {
  std::string lower;
  for (char c : uri) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return lower.find("podcastindex.org/namespace/1.0") != std::string::npos ||
         lower.find("podcastindex-org/podcast-namespace/blob/main/docs/1.0.md") !=
             std::string::npos;
}

// The prefix the root declares for the podcast namespace, declaring "podcast" (or, when that
// prefix is taken by another namespace, "podfleet-podcast") when it declares none.
std::string PodcastPrefix(pugi::xml_node root) {
  for (pugi::xml_attribute a : root.attributes()) {
    const std::string_view name = a.name();
    if (name.starts_with("xmlns:") && IsPodcastNamespace(a.value()))
      return std::string(name.substr(6));
  }
  const std::string prefix = root.attribute("xmlns:podcast") ? "podfleet-podcast" : "podcast";
  root.append_attribute(("xmlns:" + prefix).c_str())
      .set_value(std::string(kPodcastNamespace).c_str());
  return prefix;
}

pugi::xml_node Child(pugi::xml_node parent, std::string_view local) {
  for (pugi::xml_node n : parent.children())
    if (n.type() == pugi::node_element && Prefix(n).empty() && LocalName(n) == local) return n;
  return {};
}

std::string KeyOf(pugi::xml_node item) {
  if (std::string guid = TextOf(Child(item, "guid")); !guid.empty()) return guid;
  return std::string(TrimSpace(Child(item, "enclosure").attribute("url").value()));
}

}  // namespace

Result<std::string> MirrorFeed(std::string_view document,
                               const std::map<std::string, std::vector<MirrorLink>>& links) {
  pugi::xml_document doc;
  const unsigned keep = pugi::parse_declaration | pugi::parse_comments | pugi::parse_ws_pcdata |
                        pugi::parse_pi | pugi::parse_cdata;
  if (auto loaded = LoadUntrustedXml(document, "feed", doc, keep); !loaded)
    return std::unexpected(loaded.error());
  pugi::xml_node root = doc.document_element();
  pugi::xml_node channel = Child(root, "channel");
  if (LocalName(root) != "rss" || !channel)
    return InvalidArgument("not an RSS feed (<rss><channel>): only RSS feeds are mirrored");
  const std::string element = PodcastPrefix(root) + ":transcript";
  for (pugi::xml_node item : channel.children()) {
    if (item.type() != pugi::node_element || !Prefix(item).empty() || LocalName(item) != "item")
      continue;
    auto found = links.find(KeyOf(item));
    if (found == links.end()) continue;
    for (const MirrorLink& link : found->second) {
      pugi::xml_node tag = item.append_child(element.c_str());
      tag.append_attribute("url").set_value(link.url.c_str());
      tag.append_attribute("type").set_value(link.type.c_str());
      if (!link.language.empty()) tag.append_attribute("language").set_value(link.language.c_str());
      if (link.captions) tag.append_attribute("rel").set_value("captions");
    }
  }
  std::ostringstream out;
  doc.save(out, "", pugi::format_raw, pugi::encoding_utf8);
  return out.str();
}

}  // namespace podfleet
