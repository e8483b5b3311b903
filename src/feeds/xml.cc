#include "feeds/xml.h"

#include <fmt/format.h>

namespace podfleet {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::optional<std::string_view> FindNamespaceDeclaration(pugi::xml_node element,
                                                         std::string_view prefix) {
  const std::string attribute = prefix.empty() ? "xmlns" : "xmlns:" + std::string(prefix);
  for (pugi::xml_node n = element; n && n.type() == pugi::node_element; n = n.parent()) {
    if (pugi::xml_attribute a = n.attribute(attribute.c_str())) return std::string_view(a.value());
  }
  return std::nullopt;
}

}  // namespace

Result<void> LoadUntrustedXml(std::string_view text, std::string_view what, pugi::xml_document& doc,
                              unsigned keep) {
  // parse_doctype only keeps the DOCTYPE node so it can be inspected; nothing in it is applied.
  const pugi::xml_parse_result parsed =
      doc.load_buffer(text.data(), text.size(), pugi::parse_default | pugi::parse_doctype | keep);
  if (!parsed) {
    return InvalidArgument(
        fmt::format("malformed {}: {} at offset {}", what, parsed.description(), parsed.offset));
  }
  for (pugi::xml_node n = doc.first_child(); n; n = n.next_sibling()) {
    if (n.type() != pugi::node_doctype) continue;
    if (std::string_view(n.value()).find("<!ENTITY") != std::string_view::npos) {
      return InvalidArgument(
          fmt::format("malformed {}: entity declarations are not allowed at offset {}", what,
                      n.offset_debug()));
    }
  }
  return {};
}

std::string_view LocalName(pugi::xml_node element) {
  std::string_view name = element.name();
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

std::string_view Prefix(pugi::xml_node element) {
  std::string_view name = element.name();
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? std::string_view() : name.substr(0, colon);
}

std::optional<std::string_view> NamespaceUri(pugi::xml_node element) {
  const std::string_view prefix = Prefix(element);
  std::optional<std::string_view> uri = FindNamespaceDeclaration(element, prefix);
  if (!uri && prefix.empty()) return std::string_view();
  return uri;
}

std::string TextOf(pugi::xml_node element) {
  std::string text;
  for (pugi::xml_node n = element.first_child(); n; n = n.next_sibling()) {
    if (n.type() == pugi::node_pcdata || n.type() == pugi::node_cdata) text += n.value();
  }
  return std::string(TrimSpace(text));
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

}  // namespace podfleet
