#include "feeds/opml.h"

#include <sstream>
#include <unordered_set>

#include "feeds/xml.h"

namespace podfleet {
namespace {

std::string XmlUrlOf(pugi::xml_node outline) {
  for (pugi::xml_attribute a : outline.attributes()) {
    if (EqualsIgnoreCase(a.name(), "xmlUrl")) return std::string(TrimSpace(a.value()));
  }
  return {};
}

// The next element after `node` in document order that stays inside `root`. Iterative, so a
// hostile document nested a million deep cannot overflow the stack.
pugi::xml_node NextInside(pugi::xml_node node, pugi::xml_node root) {
  if (pugi::xml_node child = node.first_child()) return child;
  for (pugi::xml_node n = node; n && n != root; n = n.parent()) {
    if (pugi::xml_node sibling = n.next_sibling()) return sibling;
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> ParseOpml(std::string_view xml) {
  pugi::xml_document doc;
  if (Result<void> loaded = LoadUntrustedXml(xml, "OPML", doc); !loaded) {
    return std::unexpected(loaded.error());
  }
  const pugi::xml_node opml = doc.document_element();
  if (LocalName(opml) != "opml") {
    const std::string_view name = opml.name();
    return InvalidArgument("malformed OPML: the root element is <" +
                           std::string(name.substr(0, 64)) + ">, not <opml>");
  }
  pugi::xml_node root = opml.child("body");
  if (!root) root = opml;  // lenient: some exporters put outlines straight under <opml>

  std::vector<std::string> urls;
  std::unordered_set<std::string> seen;
  for (pugi::xml_node n = NextInside(root, root); n; n = NextInside(n, root)) {
    if (n.type() != pugi::node_element || LocalName(n) != "outline") continue;
    std::string url = XmlUrlOf(n);
    if (!url.empty() && seen.insert(url).second) urls.push_back(std::move(url));
  }
  return urls;
}

std::string WriteOpml(std::string_view title, const std::vector<OpmlOutline>& outlines) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  decl.append_attribute("encoding") = "UTF-8";
  pugi::xml_node opml = doc.append_child("opml");
  opml.append_attribute("version") = "2.0";
  opml.append_child("head").append_child("title").text().set(std::string(title).c_str());
  pugi::xml_node body = opml.append_child("body");
  for (const OpmlOutline& o : outlines) {
    pugi::xml_node outline = body.append_child("outline");
    outline.append_attribute("type") = "rss";
    outline.append_attribute("text") = o.title.c_str();
    outline.append_attribute("title") = o.title.c_str();
    outline.append_attribute("xmlUrl") = o.xml_url.c_str();
  }
  std::ostringstream out;
  doc.save(out, "  ", pugi::format_default, pugi::encoding_utf8);
  return out.str();
}

}  // namespace podfleet
