// Loading untrusted XML (feeds, OPML) with pugixml, and resolving element namespaces.
// Internal to feeds/: the pugixml types stay out of the public feed headers.
//
// Entity policy: pugixml never loads external entities and never expands entities declared in a
// DOCTYPE; it only decodes the five predefined entities and numeric character references, and
// leaves any other reference ("&nbsp;", "&xxe;") as literal text. A DOCTYPE without an internal
// subset (the old RSS 0.91 DTD reference) is ignored. A DOCTYPE that declares entities is
// rejected: no honest feed needs one, and XXE and "billion laughs" payloads start that way.
#pragma once

#include <optional>
#include <pugixml.hpp>
#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

// Parses `text` into `doc`. `what` names the document in errors ("feed", "OPML").
// kInvalidArgument "malformed <what>: <pugixml description> at offset N" when `text` is not
// well-formed XML (empty input included), or "malformed <what>: entity declarations are not
// allowed at offset N" when its DOCTYPE declares entities. `keep` adds pugixml parse options
// (comments, the declaration, whitespace) for a document that is written out again.
Result<void> LoadUntrustedXml(std::string_view text, std::string_view what, pugi::xml_document& doc,
                              unsigned keep = 0);

// The part of an element's name after any "prefix:".
std::string_view LocalName(pugi::xml_node element);

// The part of an element's name before ':', or "" when it has none.
std::string_view Prefix(pugi::xml_node element);

// The namespace URI of an element's name, resolved through the xmlns / xmlns:prefix attributes
// on the element and its ancestors. "" for an unprefixed name outside any default namespace;
// nullopt when the prefix is declared nowhere (a feed that is not namespace-well-formed).
std::optional<std::string_view> NamespaceUri(pugi::xml_node element);

// The element's text: its text and CDATA children concatenated, surrounding whitespace trimmed.
std::string TextOf(pugi::xml_node element);

// `s` without leading and trailing ASCII whitespace.
std::string_view TrimSpace(std::string_view s);

// Case-insensitive ASCII comparison.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace podfleet
